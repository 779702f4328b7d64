// PartitionReplicaStore: the replication protocol's ReplicaStore on a store::Partition.
#pragma once

#include <memory>
#include <vector>

#include "replication/replica_store.h"
#include "store/partition.h"

namespace meridian::replication {

// The largest data a CheckpointChunk carries.
inline constexpr size_t kCheckpointChunkBytes = 1 << 20;

// Implements ReplicaStore by forwarding to a Partition (see store/partition.h for what each
// write does on disk and how it fails), and streams checkpoints as CheckpointChunk messages:
// every file of the checkpoint in order, in chunks of at most kCheckpointChunkBytes, the last
// chunk of each file marked end_of_file (an empty file is one empty chunk), the first chunk of all
// carrying the checkpoint's lsn and epoch.
//
// Borrows the partition, which must outlive it and should be opened with
// PartitionOptions::track_visibility so that SetVisible governs what reads see. Thread safety as
// the partition's; ReplicaStore's callers make one call at a time.
class PartitionReplicaStore final : public ReplicaStore {
 public:
  explicit PartitionReplicaStore(store::Partition* partition) : p_(partition) {}

  uint64_t base() const override { return p_->base(); }
  uint64_t base_epoch() const override { return p_->base_epoch(); }
  uint64_t applied() const override { return p_->applied(); }
  uint64_t log_end() const override { return p_->last_lsn(); }
  uint64_t durable_end() const override { return p_->durable_end(); }
  Result<uint64_t> EpochAt(uint64_t lsn) const override { return p_->EpochAt(lsn); }
  Result<uint64_t> Propose(uint64_t epoch, const Builder& build) override {
    return p_->Propose(epoch, build);
  }
  Status Append(const std::vector<proto::Op>& ops) override { return p_->Append(ops); }
  Result<uint64_t> Sync() override { return p_->Sync(); }
  Status TruncateAfter(uint64_t lsn) override { return p_->TruncateAfter(lsn); }
  Status ApplyThrough(uint64_t lsn) override { return p_->ApplyThrough(lsn); }
  void SetVisible(uint64_t lsn) override { p_->SetVisible(lsn); }
  uint64_t visible() const override { return p_->known_committed(); }
  Status ReadLog(uint64_t from, size_t max_bytes, std::vector<proto::Op>* out) const override {
    return p_->ReadLog(from, max_bytes, out);
  }
  Status TrimLogThrough(uint64_t lsn) override { return p_->TrimLogThrough(lsn); }

  // kInternal when the checkpoint cannot be made or a file read.
  Result<std::unique_ptr<CheckpointReader>> OpenCheckpoint() override;
  // Add fails with kInvalidArgument for a chunk out of order (see store::CheckpointStaging), and
  // with kInternal on an I/O failure.
  Result<std::unique_ptr<CheckpointWriter>> BeginInstall() override;
  // kInvalidArgument for a writer of another store, one that received no chunk, or one whose
  // files do not hold the position its first chunk announced; otherwise as Partition::Install.
  Status Install(std::unique_ptr<CheckpointWriter> writer) override;

 private:
  store::Partition* const p_;
};

}  // namespace meridian::replication
