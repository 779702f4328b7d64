// ReplicaStore: what the replication protocol needs from one replica's storage.
//
// A replica holds a log of ops numbered by LSN, each stamped with the epoch of the primary that
// logged it, and the state that applying a prefix of the log produces. Positions:
//
//     base          applied             durable_end        log_end
//      |  (trimmed)  |  applied entries  |  appended, synced  |  appended, not yet synced
//
//   base      the last entry no longer in the log (trimmed, or the position of an installed
//             checkpoint); its epoch is still known (base_epoch), so that an append right after
//             it can be checked. 0 for a fresh replica.
//   applied   state reflects entries (base, applied]. A primary applies as it proposes, so on a
//             primary applied == log_end; a secondary applies only what the primary says is
//             committed, so that its state never holds an op that could still be lost.
//   visible   what reads see (SetVisible): never beyond the commit point the replica knows.
//
// `PartitionReplicaStore` implements it on a store::Partition; the simulation keeps it in memory.
// Thread-safe: the replica calls it from its loop, from request threads (Propose) and from a
// blocking worker (Sync, Install), and reads of the state run concurrently through the
// partition's views.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/op.pb.h"
#include "meridian/replication.pb.h"
#include "store/partition.h"

namespace meridian::replication {

// The op format this binary writes and the newest it can apply. A replica refuses entries of a
// newer format (it must be upgraded first) rather than apply them wrongly. Defined by the store,
// which stamps and checks it.
inline constexpr uint32_t kOpFormat = store::kOpFormat;

// Streams a checkpoint out: every chunk in order, the first carrying the position.
class CheckpointReader {
 public:
  virtual ~CheckpointReader() = default;
  // Fills `chunk` and returns true, or returns false at the end. An error if a file cannot be read.
  virtual Result<bool> Next(proto::CheckpointChunk* chunk) = 0;
};

// Receives a checkpoint; Install replaces the replica's whole storage with it, atomically.
class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;
  virtual Status Add(const proto::CheckpointChunk& chunk) = 0;
};

class ReplicaStore {
 public:
  virtual ~ReplicaStore() = default;

  virtual uint64_t base() const = 0;
  virtual uint64_t base_epoch() const = 0;
  virtual uint64_t applied() const = 0;
  virtual uint64_t log_end() const = 0;
  virtual uint64_t durable_end() const = 0;

  // The epoch of the entry at `lsn`, for lsn in [base, log_end] (base_epoch at base, 0 at 0).
  virtual Result<uint64_t> EpochAt(uint64_t lsn) const = 0;

  // Builds an op from the latest state (including entries not yet committed), stamps it with
  // lsn = log_end + 1, `epoch` and kOpFormat, applies it and appends it. Not durable until Sync.
  // The error of `build` or of the apply rejects it: nothing is written, no LSN is used.
  // `build` runs under the store's write lock, so the state it reads cannot change before the op
  // applies.
  using Builder = std::function<Status(const store::ReadView& latest, proto::Op* op)>;
  virtual Result<uint64_t> Propose(uint64_t epoch, const Builder& build) = 0;

  // Appends entries that follow log_end (kFailedPrecondition otherwise; kFailedPrecondition also
  // for an op format newer than kOpFormat). Not durable until Sync.
  virtual Status Append(const std::vector<proto::Op>& ops) = 0;

  // Makes every appended entry durable (one fsync for all of them) and returns durable_end.
  virtual Result<uint64_t> Sync() = 0;

  // Removes the entries after `lsn`, durably. Requires applied <= lsn <= log_end
  // (kFailedPrecondition otherwise: an applied entry cannot be taken back; install a checkpoint).
  virtual Status TruncateAfter(uint64_t lsn) = 0;

  // Applies the entries (applied, lsn]; lsn <= durable_end.
  virtual Status ApplyThrough(uint64_t lsn) = 0;

  // Reads see the state through `lsn` and nothing after it (lsn <= applied). Every visible entry
  // is committed, so the position is also kept on disk, lazily, with the next write or sync.
  virtual void SetVisible(uint64_t lsn) = 0;
  // The last visible position that reached the disk: after a restart, what the replica knows to
  // be committed before any primary tells it more.
  virtual uint64_t visible() const = 0;

  // Appends to `out` the entries from `from` on, stopping after `max_bytes` of serialized ops
  // (at least one entry when any). from > base.
  virtual Status ReadLog(uint64_t from, size_t max_bytes, std::vector<proto::Op>* out) const = 0;

  // Forgets the entries up to `lsn` (lsn <= applied): the state covers them.
  virtual Status TrimLogThrough(uint64_t lsn) = 0;

  // A copy of the applied state at its current position. The caller streams it only once that
  // position is committed.
  virtual Result<std::unique_ptr<CheckpointReader>> OpenCheckpoint() = 0;
  virtual Result<std::unique_ptr<CheckpointWriter>> BeginInstall() = 0;
  // Replaces the storage with what `writer` received: afterwards base == applied == log_end ==
  // durable_end == the checkpoint's position. Visibility is left alone: the checkpoint may run
  // ahead of the commit point, and the replica calls SetVisible once it knows.
  virtual Status Install(std::unique_ptr<CheckpointWriter> writer) = 0;
};

}  // namespace meridian::replication
