#include "replication/partition_replica_store.h"

namespace meridian::replication {
namespace {

class Reader final : public CheckpointReader {
 public:
  explicit Reader(std::unique_ptr<store::Checkpoint> cp) : cp_(std::move(cp)) {}

  Result<bool> Next(proto::CheckpointChunk* chunk) override {
    if (file_ >= cp_->files().size()) return false;
    chunk->Clear();
    if (first_) {
      chunk->set_lsn(cp_->lsn());
      chunk->set_epoch(cp_->epoch());
      first_ = false;
    }
    const std::string& name = cp_->files()[file_];
    chunk->set_file(name);
    std::string data;
    MERIDIAN_RETURN_IF_ERROR(cp_->Read(name, offset_, kCheckpointChunkBytes, &data));
    offset_ += data.size();
    // A short read is the file's end; a full one may be followed by nothing, which the next
    // chunk, empty, then says.
    if (data.size() < kCheckpointChunkBytes) {
      chunk->set_end_of_file(true);
      ++file_;
      offset_ = 0;
    }
    chunk->set_data(std::move(data));
    return true;
  }

 private:
  const std::unique_ptr<store::Checkpoint> cp_;
  size_t file_ = 0;
  uint64_t offset_ = 0;
  bool first_ = true;
};

class Writer final : public CheckpointWriter {
 public:
  explicit Writer(std::unique_ptr<store::CheckpointStaging> staging)
      : staging_(std::move(staging)) {}

  Status Add(const proto::CheckpointChunk& chunk) override {
    if (!started_) {
      lsn_ = chunk.lsn();
      epoch_ = chunk.epoch();
      started_ = true;
    }
    return staging_->Add(chunk.file(), chunk.data(), chunk.end_of_file());
  }

  bool started() const { return started_; }
  uint64_t lsn() const { return lsn_; }
  uint64_t epoch() const { return epoch_; }
  std::unique_ptr<store::CheckpointStaging> Take() { return std::move(staging_); }

 private:
  std::unique_ptr<store::CheckpointStaging> staging_;
  bool started_ = false;
  uint64_t lsn_ = 0, epoch_ = 0;
};

}  // namespace

Result<std::unique_ptr<CheckpointReader>> PartitionReplicaStore::OpenCheckpoint() {
  MERIDIAN_ASSIGN_OR_RETURN(auto cp, p_->OpenCheckpoint());
  return std::unique_ptr<CheckpointReader>(std::make_unique<Reader>(std::move(cp)));
}

Result<std::unique_ptr<CheckpointWriter>> PartitionReplicaStore::BeginInstall() {
  MERIDIAN_ASSIGN_OR_RETURN(auto staging, p_->BeginInstall());
  return std::unique_ptr<CheckpointWriter>(std::make_unique<Writer>(std::move(staging)));
}

Status PartitionReplicaStore::Install(std::unique_ptr<CheckpointWriter> writer) {
  auto* ours = dynamic_cast<Writer*>(writer.get());
  if (!ours) return InvalidArgument("checkpoint writer of another store");
  if (!ours->started()) return InvalidArgument("checkpoint received no chunk");
  return p_->Install(ours->Take(), ours->lsn(), ours->epoch());
}

}  // namespace meridian::replication
