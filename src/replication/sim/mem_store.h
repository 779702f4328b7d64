// MemStore: a ReplicaStore in memory for the simulation, with a disk's crash semantics: what was
// appended but not synced is lost by Crash(), truncations and installs are durable at once, and
// state applied past the durable log is rebuilt from the log on restart.
//
// Its state machine is a map from key to the sequence of values written to it: an op is a
// PutObject whose id is the key and whose record_json is the value appended. A value lost or
// applied twice shows in the sequence, which is what the checker looks for.
//
// Single-threaded: the simulation calls it from its scheduler only.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "replication/replica_store.h"

namespace meridian::replication::sim {

using KvState = std::map<std::string, std::vector<std::string>>;

class MemStore final : public ReplicaStore {
 public:
  MemStore() = default;

  // Loses everything not durable, as a process kill with an unsynced disk write would.
  void Crash();

  // The values of `key` as a reader of this replica sees them (through visible()).
  std::vector<std::string> Read(const std::string& key) const;
  // The whole state through `lsn` (<= applied), and its digest.
  KvState StateAt(uint64_t lsn) const;
  static uint64_t Digest(const KvState& state);

  // ReplicaStore.
  uint64_t base() const override { return base_; }
  uint64_t base_epoch() const override { return base_epoch_; }
  uint64_t applied() const override { return applied_; }
  uint64_t log_end() const override { return base_ + log_.size(); }
  uint64_t durable_end() const override { return durable_end_; }
  Result<uint64_t> EpochAt(uint64_t lsn) const override;
  Result<uint64_t> Propose(uint64_t epoch, const Builder& build) override;
  Status Append(const std::vector<proto::Op>& ops) override;
  Result<uint64_t> Sync() override;
  Status TruncateAfter(uint64_t lsn) override;
  Status ApplyThrough(uint64_t lsn) override;
  void SetVisible(uint64_t lsn) override { visible_ = lsn; }
  uint64_t visible() const override { return durable_visible_; }
  Status ReadLog(uint64_t from, size_t max_bytes, std::vector<proto::Op>* out) const override;
  Status TrimLogThrough(uint64_t lsn) override;
  Result<std::unique_ptr<CheckpointReader>> OpenCheckpoint() override;
  Result<std::unique_ptr<CheckpointWriter>> BeginInstall() override;
  Status Install(std::unique_ptr<CheckpointWriter> writer) override;

  uint64_t visible_now() const { return visible_; }

 private:
  static void ApplyOp(const proto::Op& op, KvState* state);
  const proto::Op& Entry(uint64_t lsn) const { return log_[lsn - base_ - 1]; }

  uint64_t base_ = 0;
  uint64_t base_epoch_ = 0;
  KvState base_state_;        // the state at base_
  std::vector<proto::Op> log_;  // entries base_+1 ...
  uint64_t applied_ = 0;
  KvState state_;             // the state at applied_
  uint64_t durable_end_ = 0;
  uint64_t durable_applied_ = 0;  // applied_ as of the last sync
  uint64_t visible_ = 0;
  uint64_t durable_visible_ = 0;
};

}  // namespace meridian::replication::sim
