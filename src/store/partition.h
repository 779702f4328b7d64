// Partition: one scale unit's replicated state machine on RocksDB.
//
// A partition owns a log of Ops numbered by LSN (1, 2, 3, ...) and the state that applying them
// produces. The embedded default (one process, no replication) writes with Write: one RocksDB
// WriteBatch holding the log entry and everything the op changes (objects, indexes, counters, the
// audit record), written with sync, so it is durable all together or not at all; reopening after
// a crash finds exactly the acknowledged ops. The log can be read from any retained LSN onward: it
// is the replication stream.
//
// A replica (see replication/replica_store.h for the protocol's view) uses the other write paths:
//
//     base          applied             durable_end        last_lsn (the log's end)
//      |  (trimmed)  |  applied entries  |  appended, synced  |  appended, not yet synced
//
//   - Propose: a primary builds, applies and logs an op in one batch (applied == log end), but
//     without fsync; Sync then makes everything written so far durable with one fsync, so that
//     concurrent ops share it (group commit).
//   - Append: a secondary logs entries without applying them; ApplyThrough applies them later, up
//     to what the primary says is committed. TruncateAfter drops an unapplied tail.
//   - SetVisible: with PartitionOptions::track_visibility, reads (Snapshot, Latest) see the state
//     only through the LSN last made visible, although applied may run ahead of it.
//   - TrimLogThrough forgets applied entries; OpenCheckpoint / BeginInstall / Install copy the
//     whole state to another replica (see store/checkpoint.h for the directory layout).
//
// Key space of a partition's database:
//   "L" <lsn:8 bytes big-endian>  -> serialized proto::Op
//   "T" <tenant id> "/" ...        -> a tenant's data (see store/keys.h)
//   "G" ...                        -> global tenant directory (only in the directory partition)
//   "Mapplied"                     -> applied <8 bytes big-endian>; present only while the log
//                                     holds entries beyond applied (absent: applied == log end)
//   "Mbase"                        -> base, base epoch <8 + 8 bytes big-endian>; absent: 0, 0
// Each meta key is written in the same batch as the change it describes, so it is never out of
// step with the log and the state. A directory written before they existed opens unchanged: no
// meta keys means applied == log end and base == 0. The log's end is the last "L" key, or base
// when the log is empty.
//
// Tenant isolation in the batch: an op with a tenant_id may read and write only keys under
// "T" <tenant_id> "/". The WriteContext its apply receives refuses anything else (see
// WriteContext), and the commit then fails with kInternal naming the key; nothing is written.
// Ops with an empty tenant_id (the global directory's) are not confined.
//
// Storage failures: a commit whose RocksDB write fails (a failed WAL append or fsync, a full
// disk), or a Sync whose fsync fails, is not acknowledged and does not advance last_lsn() or
// durable_end(). RocksDB then stops accepting writes (a background error), and the partition
// refuses every later write (Write, ApplyLogged, Propose, Append, Sync, TruncateAfter,
// ApplyThrough, TrimLogThrough, Install) with kUnavailable until it is reopened; reads keep
// working. Reopening recovers: it finds every acknowledged op, and the failed op at most whole,
// never in part (see Partition::Write).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "meridian/op.pb.h"
#include "store/checkpoint.h"

namespace rocksdb {
class Cache;
class DB;
class Env;
class Snapshot;
class WriteBatch;
}  // namespace rocksdb

namespace meridian::store {

// The op format this binary writes and the newest it can apply (proto::Op::format). Every write
// path stamps it; an op of a newer format is refused with kFailedPrecondition rather than applied
// wrongly: the node must be upgraded first. Format 0 is an op logged before ops were stamped; it
// means the same as format 1.
inline constexpr uint32_t kOpFormat = 1;

class DbHandle;  // one open RocksDB database; defined in partition.cc

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
  // Reads (Snapshot, Latest) see the state only through the LSN given to SetVisible, however far
  // applied has run ahead: a replica's mode. Off (the embedded default): reads see every applied
  // op, as soon as its write returns.
  bool track_visibility = false;
  // Test-only: Install calls it at its named steps ("install:before-switch",
  // "install:after-switch"); an error stops the install right there, leaving the files as a crash
  // at that point would, and Install returns it.
  std::function<Status(std::string_view step)> install_fail_point;
};

// Thread-safe. Writes are serialized per partition; reads run concurrently with them, and with
// an Install (a view opened before it keeps reading the old state until it is dropped).
class Partition {
 public:
  ~Partition();
  Partition(const Partition&) = delete;
  Partition& operator=(const Partition&) = delete;

  // Opens (creating if missing) the partition stored in directory `path` (see store/checkpoint.h
  // for what may be inside it), and removes what an interrupted install or checkpoint left there.
  // `machine` must outlive the partition. Fails with kInternal when RocksDB cannot open the
  // directory or its meta keys are inconsistent.
  static Result<std::unique_ptr<Partition>> Open(std::string id, const std::string& path,
                                                 StateMachine* machine,
                                                 const PartitionOptions& options = {});

  const std::string& id() const { return id_; }

  // ---------------------------------------------------------------- the embedded default

  // Builds an op from the current state and commits it. `build` runs under the partition's write
  // lock, so the state it reads cannot change before the op applies; it fills every field but the
  // LSN, the epoch (0) and the format (kOpFormat), which Write sets. Returns the op's LSN once it
  // is durable (synced, unless options.sync is off).
  // Failures, none of which acknowledges the op or advances last_lsn():
  //   - the error from `build` or from the apply: nothing was written;
  //   - kInternal when the op has an invalid tenant id or its apply touched a key outside its
  //     tenant (see WriteContext): nothing was written;
  //   - kFailedPrecondition when the log holds entries not yet applied (a replica's), or the last
  //     entry has a newer epoch than 0: nothing was written;
  //   - kInternal when RocksDB fails to write or sync the batch. As with any failed fsync, the
  //     caller cannot know whether the bytes reached the disk: after a reopen the op is either
  //     absent or present whole, with this LSN and all its effects. The partition refuses writes
  //     from then on;
  //   - kUnavailable when an earlier commit failed so: reopen the partition to recover.
  using Builder = std::function<Status(const ReadView& state, proto::Op* op)>;
  Result<uint64_t> Write(const Builder& build);

  // Where a write committed: its LSN and the epoch it was logged under (0 on the embedded
  // default). Together with the partition's id, what a replica token names.
  struct Ack {
    uint64_t lsn = 0;
    uint64_t epoch = 0;
  };
  using WriteDone = std::function<void(Result<Ack>)>;

  // As Write, but the outcome goes to `done` instead of the caller waiting for it. `build` runs
  // before WriteAsync returns (it may capture the caller's locals by reference); `done` runs
  // exactly once, on this thread before WriteAsync returns (the embedded default, which syncs
  // here) or later on another thread (a cluster node, once the write committed on the sync
  // set). Failures as for Write, and on a cluster node those of the replica.
  void WriteAsync(const Builder& build, WriteDone done);

  // On a cluster node, writes go through the partition's replica instead (propose, replicate to
  // the sync set, commit): the hook calls `build` before it returns and `done` once the write
  // committed or failed (kUnavailable with graph_code replication::kNotPrimary on a node that is
  // not the primary: nothing was logged). Write then blocks its thread until `done` runs; the
  // request path uses WriteAsync. Set once, before the first write.
  using WriteHook = std::function<void(const Builder& build, WriteDone done)>;
  void SetWriteHook(WriteHook hook) { write_hook_ = std::move(hook); }

  // Applies and logs, in one batch synced as Write's, an op that already has its LSN, which must be
  // last_lsn() + 1 with every entry applied (kFailedPrecondition otherwise, and for a format newer
  // than kOpFormat). Used to replay one partition's log into another. Other failures as for Write.
  Status ApplyLogged(const proto::Op& op);

  // ---------------------------------------------------------------- a replica

  // As Write, but the op is stamped with `epoch` (which must not be older than the last entry's:
  // kFailedPrecondition) and the batch is written WITHOUT fsync: the op is applied and logged at
  // once (applied == last_lsn() afterwards) but durable only after a Sync. With visibility
  // tracking, reads do not see it until SetVisible reaches its LSN; `build` does (it reads the
  // latest state, every proposed op included).
  Result<uint64_t> Propose(uint64_t epoch, const Builder& build);

  // Logs `ops` without applying them, in one batch, without fsync. Their LSNs must continue
  // last_lsn() one by one and their epochs must not decrease (kFailedPrecondition otherwise, and
  // for a format newer than kOpFormat: "upgrade this node"); nothing is written then. Other
  // failures as for Write.
  Status Append(const std::vector<proto::Op>& ops);

  // Makes everything written so far durable with one fsync of the write-ahead log and returns
  // durable_end(). Writes continue while it runs; they are covered by the next Sync. A failed
  // fsync is kInternal and stops writes as a failed commit does (see "Storage failures").
  Result<uint64_t> Sync();

  // Removes the log entries after `lsn`, durably (synced). Requires applied() <= lsn <= last_lsn()
  // (kFailedPrecondition otherwise: an applied entry cannot be taken back).
  Status TruncateAfter(uint64_t lsn);

  // Applies the logged entries (applied(), lsn], each in its own batch, without fsync (the log
  // entries are durable, so a lost apply is redone after a crash). Requires lsn <= durable_end()
  // (kFailedPrecondition); lsn <= applied() does nothing. kFailedPrecondition for an entry of a
  // newer format (nothing after it is applied); an apply's error is returned as it is, with the
  // entries before it applied.
  Status ApplyThrough(uint64_t lsn);

  // Reads see the state through `lsn` (clamped to applied()) and nothing after it, when the
  // partition tracks visibility; visibility never moves back, so a smaller `lsn` does nothing.
  // Without tracking, only visible() changes.
  void SetVisible(uint64_t lsn);

  // Forgets the log entries up to `lsn`, which the state covers: base() becomes `lsn` and
  // base_epoch() its entry's epoch. Requires lsn <= applied() (kFailedPrecondition); lsn <= base()
  // does nothing. Not synced: after a crash the entries may come back, which is harmless.
  Status TrimLogThrough(uint64_t lsn);

  // The epoch of the entry at `lsn`: 0 at 0, base_epoch() at base(), otherwise the logged entry's.
  // kFailedPrecondition outside [base(), last_lsn()]; kInternal for an unreadable entry.
  Result<uint64_t> EpochAt(uint64_t lsn) const;

  // Calls `fn` with each logged op from `from_lsn` on, in order, until it returns false.
  // kFailedPrecondition when the entries from `from_lsn` on were trimmed (from_lsn <= base() > 0).
  Status ReadLog(uint64_t from_lsn, const std::function<bool(const proto::Op&)>& fn) const;
  // Appends to `out` the entries from `from_lsn` on while their serialized size stays within
  // `max_bytes`, but at least one when there is any. Failures as above.
  Status ReadLog(uint64_t from_lsn, size_t max_bytes, std::vector<proto::Op>* out) const;

  // A RocksDB checkpoint of the state at applied(), beside the partition's data (see
  // store/checkpoint.h). Writes wait while it is made (a memtable flush and hard links).
  // kInternal when RocksDB cannot make it.
  Result<std::unique_ptr<Checkpoint>> OpenCheckpoint();
  // A new data directory to receive a checkpoint's files. kInternal on an I/O failure.
  Result<std::unique_ptr<CheckpointStaging>> BeginInstall();
  // Replaces the partition's state and log with the checkpoint `staged` received, which must hold
  // the position (lsn, epoch) its sender announced (kInvalidArgument otherwise, as for a staging
  // that is not complete or not this partition's). Afterwards base() == applied() == last_lsn() ==
  // durable_end() == visible() == lsn, but what a Sync records as committed (known_committed()
  // after a reopen) stays 0 until SetVisible confirms a position. Atomic across a crash: the partition reopens either as it
  // was or as installed, never a mix. Views opened before keep reading the old state; the old
  // directory is removed once the last of them is dropped. kInternal on an I/O failure (the old
  // state stays); kUnavailable as for Write.
  Status Install(std::unique_ptr<CheckpointStaging> staged, uint64_t lsn, uint64_t epoch);

  // ---------------------------------------------------------------- positions

  // The log's end: the LSN of the last entry (or base() when the log is empty).
  uint64_t last_lsn() const;
  uint64_t applied() const;
  // The end of the log that is known to be on disk: advanced by Sync, by the synced write paths
  // (Write, ApplyLogged, TruncateAfter, Install), and to last_lsn() by Open.
  uint64_t durable_end() const;
  uint64_t base() const;
  uint64_t base_epoch() const;
  // What reads see when the partition tracks visibility. Open sets it to applied().
  uint64_t visible() const;
  // What the partition knew to be committed when it was opened: the last visible point a Sync
  // wrote down (with visibility tracking), or applied() for a partition that never recorded one
  // (the embedded default's, every entry of which is committed). A restarted replica serves
  // nothing beyond it until its primary says more is committed.
  uint64_t known_committed() const;

  // Ok while the partition takes writes; the error that stopped them otherwise (for readiness).
  // Takes the write lock, so it waits for a commit in progress.
  Status Writable() const;

  // A consistent point-in-time view of the committed state, for reads of several keys. With
  // visibility tracking, the state through visible().
  std::unique_ptr<ReadView> Snapshot() const;
  // A view of the latest committed state without a snapshot: cheaper, for single-key reads
  // and for reads whose keys are written together. With visibility tracking, while applied()
  // runs ahead of visible(), it reads the same snapshot as Snapshot().
  std::unique_ptr<ReadView> Latest() const;

 private:
  struct Positions {
    uint64_t base = 0, base_epoch = 0;
    uint64_t applied = 0;
    uint64_t durable_end = 0;
    uint64_t log_end = 0, log_end_epoch = 0;
    uint64_t visible = 0;
    uint64_t known_committed = 0;
    // The highest LSN SetVisible was given since the database was opened or installed: what a
    // Sync writes down as committed. `visible` itself also moves on an Install, to a position
    // nobody has confirmed committed.
    uint64_t confirmed = 0;
  };
  using SnapshotRef = std::shared_ptr<const rocksdb::Snapshot>;

  Partition(std::string id, std::string path, std::shared_ptr<DbHandle> db, StateMachine* machine,
            const PartitionOptions& options, std::shared_ptr<rocksdb::Cache> cache,
            const Positions& pos);
  // Reads the positions a database holds (see the key space above); kInternal when its meta keys
  // are corrupt or out of step.
  static Result<Positions> Recover(rocksdb::DB* db);
  // EpochAt in database `db` at positions `pos`.
  static Result<uint64_t> EpochIn(rocksdb::DB* db, const Positions& pos, uint64_t lsn);
  // All require write_mu_.
  Status CheckWritable() const;
  Result<uint64_t> BuildAndCommit(uint64_t epoch, const Builder& build, bool sync);
  Status CheckFollows(const proto::Op& op, uint64_t lsn, uint64_t prev_epoch) const;
  Status Commit(const proto::Op& op, bool log, bool sync);
  // Writes `batch`; a failure stops the partition's writes (see "Storage failures").
  Status WriteOrStop(rocksdb::WriteBatch* batch, bool sync, const std::string& what);
  // A change of the state is bracketed: BeginStateChange before its write pins what readers see,
  // Publish after it installs the new positions (see "Visibility" in partition.cc). Every change
  // of the positions goes through Publish, and a failed write publishes the unchanged ones.
  void BeginStateChange();
  void Publish(const Positions& next);
  // The database and positions, as a reader takes them.
  Positions Read(std::shared_ptr<DbHandle>* db) const;
  Positions Current() const;

  const std::string id_;
  const std::string path_;
  StateMachine* const machine_;
  const PartitionOptions options_;
  const std::shared_ptr<rocksdb::Cache> cache_;  // shared by every database the partition opens

  // Serializes writes. Taken before mu_ when both are.
  mutable std::mutex write_mu_;
  // The failure that stopped this partition's writes; guarded by write_mu_.
  Status write_failure_;
  // Bumped by TruncateAfter and Install, so that a Sync that ran across one does not claim
  // entries written after it as durable; guarded by write_mu_.
  uint64_t log_generation_ = 0;
  WriteHook write_hook_;
  // The visible point last written by Sync; guarded by write_mu_.
  std::optional<uint64_t> persisted_committed_;

  // Guards what readers take: the database, the positions and the snapshots of visibility. They
  // change only under write_mu_ as well, so a writer reads them without mu_.
  mutable std::mutex mu_;
  std::shared_ptr<DbHandle> db_;
  Positions pos_;
  // Visibility tracking (see partition.cc). `pinned_` null: readers read the database directly.
  SnapshotRef pinned_;
  // Snapshots taken after state changes not yet visible, by the applied LSN they show.
  std::map<uint64_t, SnapshotRef> pending_;
  bool changing_ = false;  // a state change is being written
};

// The log key of `lsn`.
std::string LogKey(uint64_t lsn);

}  // namespace meridian::store
