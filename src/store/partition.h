// Partition: one scale unit's replicated state machine on RocksDB.
//
// A partition owns a log of Ops numbered by LSN (1, 2, 3, ...) and the state that applying them
// produces. A write is one RocksDB WriteBatch holding the log entry and everything the op changes
// (objects, indexes, counters, the audit record), written with sync, so it is durable all together
// or not at all; reopening after a crash finds exactly the acknowledged ops. The log can be read
// from any retained LSN onward: it is the replication stream.
//
// Key space of a partition's database:
//   "L" <lsn:8 bytes big-endian>  -> serialized proto::Op
//   "T" <tenant id> "/" ...        -> a tenant's data (see store/keys.h)
//   "G" ...                        -> global tenant directory (only in the directory partition)
//
// Tenant isolation in the batch: an op with a tenant_id may read and write only keys under
// "T" <tenant_id> "/". The WriteContext its apply receives refuses anything else (see
// WriteContext), and the commit then fails with kInternal naming the key; nothing is written.
// Ops with an empty tenant_id (the global directory's) are not confined.
//
// Storage failures: a commit whose RocksDB write fails (a failed WAL append or fsync, a full
// disk) is not acknowledged and does not advance last_lsn(). RocksDB then stops accepting writes
// (a background error), and the partition refuses every later Write and ApplyLogged with
// kUnavailable until it is reopened; reads keep working. Reopening recovers: it finds every
// acknowledged op, and the failed op at most whole, never in part (see Partition::Write).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "meridian/op.pb.h"

namespace rocksdb {
class DB;
class Env;
class Snapshot;
}  // namespace rocksdb

namespace meridian::store {

// Point reads and ordered scans over a partition's state. Implementations are not thread-safe;
// each reader makes its own.
class ReadView {
 public:
  virtual ~ReadView() = default;
  // nullopt when the key is absent; an error only on an I/O failure.
  virtual Result<std::optional<std::string>> Get(std::string_view key) const = 0;
  // Visits keys in [begin, end) in ascending order (descending when `reverse`) until `fn`
  // returns false.
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;
  virtual Status Scan(std::string_view begin, std::string_view end, bool reverse,
                      const Visitor& fn) const = 0;
};

// What an apply sees: the state before the op plus the op's own changes so far.
//
// The partition's context confines an op with a tenant_id to that tenant's keys: Get and Scan
// of a key or range outside "T" <tenant_id> "/" return kInternal, and a Put or Delete outside it
// is dropped and recorded, so that the commit fails with kInternal naming the first such key
// whatever Apply returns. Such an access is a bug in the state machine (or a forged logged op),
// not a client's error: hence kInternal.
class WriteContext : public ReadView {
 public:
  virtual void Put(std::string_view key, std::string_view value) = 0;
  virtual void Delete(std::string_view key) = 0;
};

// The deterministic part of a partition. Apply must depend only on the op and the state it reads
// through `ctx` (no clock, no randomness, no other I/O), so that every replica reaches the same
// state. An error from Apply on the primary rejects the op before it is logged (a uniqueness
// violation, say); nothing is written.
class StateMachine {
 public:
  virtual ~StateMachine() = default;
  virtual Status Apply(const proto::Op& op, WriteContext* ctx) = 0;
};

struct PartitionOptions {
  // fsync every acknowledged write. Only tests that measure something else turn it off.
  bool sync = true;
  // nullptr means rocksdb::Env::Default(); tests pass a fault-injecting Env.
  rocksdb::Env* env = nullptr;
  size_t block_cache_bytes = 64 << 20;
};

// Thread-safe. Writes are serialized per partition; reads run concurrently with them.
class Partition {
 public:
  ~Partition();
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Opens (creating if missing) the partition stored in directory `path`. `machine` must outlive
  // the partition. Fails with kInternal when RocksDB cannot open the directory.
  static Result<std::unique_ptr<Partition>> Open(std::string id, const std::string& path,
                                                 StateMachine* machine,
                                                 const PartitionOptions& options = {});

  const std::string& id() const { return id_; }

  // Builds an op from the current state and commits it. `build` runs under the partition's write
  // lock, so the state it reads cannot change before the op applies; it fills every field but the
  // LSN. Returns the op's LSN once it is durable (synced, unless options.sync is off).
  // Failures, none of which acknowledges the op or advances last_lsn():
  //   - the error from `build` or from the apply: nothing was written;
  //   - kInternal when the op has an invalid tenant id or its apply touched a key outside its
  //     tenant (see WriteContext): nothing was written;
  //   - kInternal when RocksDB fails to write or sync the batch. As with any failed fsync, the
  //     caller cannot know whether the bytes reached the disk: after a reopen the op is either
  //     absent or present whole, with this LSN and all its effects. The partition refuses writes
  //     from then on;
  //   - kUnavailable when an earlier commit failed so: reopen the partition to recover.
  using Builder = std::function<Status(const ReadView& state, proto::Op* op)>;
  Result<uint64_t> Write(const Builder& build);

  // The replica path: applies an op that already has its LSN, which must be last_lsn() + 1
  // (kFailedPrecondition otherwise). Other failures as for Write.
  Status ApplyLogged(const proto::Op& op);

  // Calls `fn` with each logged op from `from_lsn` on, in order, until it returns false.
  Status ReadLog(uint64_t from_lsn, const std::function<bool(const proto::Op&)>& fn) const;

  uint64_t last_lsn() const;

  // Ok while the partition takes writes; the error that stopped them otherwise (for readiness).
  // Takes the write lock, so it waits for a commit in progress.
  Status Writable() const;

  // A consistent point-in-time view of the committed state, for reads of several keys.
  std::unique_ptr<ReadView> Snapshot() const;
  // A view of the latest committed state without a snapshot: cheaper, for single-key reads
  // and for reads whose keys are written together.
  std::unique_ptr<ReadView> Latest() const;

 private:
  Partition(std::string id, rocksdb::DB* db, StateMachine* machine, bool sync, uint64_t last);
  // Both require write_mu_.
  Status CheckWritable() const;
  Status Commit(const proto::Op& op);

  const std::string id_;
  std::unique_ptr<rocksdb::DB> db_;
  StateMachine* const machine_;
  const bool sync_;
  mutable std::mutex write_mu_;
  std::atomic<uint64_t> last_lsn_;
  // The failure of the RocksDB write that stopped this partition's writes; guarded by write_mu_.
  Status write_failure_;
};

// The log key of `lsn`.
std::string LogKey(uint64_t lsn);

}  // namespace meridian::store
