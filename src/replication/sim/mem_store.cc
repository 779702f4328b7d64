#include "replication/sim/mem_store.h"

namespace meridian::replication::sim {
namespace {

// The ReadView a builder sees; the simulation's ops do not read the state.
class NoState final : public store::ReadView {
 public:
  Result<std::optional<std::string>> Get(std::string_view) const override {
    return std::optional<std::string>();
  }
  Status Scan(std::string_view, std::string_view, bool, const Visitor&) const override {
    return Status::Ok();
  }
};

class MemCheckpointReader final : public CheckpointReader {
 public:
  explicit MemCheckpointReader(proto::CheckpointChunk chunk) : chunk_(std::move(chunk)) {}
  Result<bool> Next(proto::CheckpointChunk* chunk) override {
    if (done_) return false;
    *chunk = chunk_;
    done_ = true;
    return true;
  }

 private:
  proto::CheckpointChunk chunk_;
  bool done_ = false;
};

class MemCheckpointWriter final : public CheckpointWriter {
 public:
  Status Add(const proto::CheckpointChunk& chunk) override {
    chunks.push_back(chunk);
    return Status::Ok();
  }
  std::vector<proto::CheckpointChunk> chunks;
};

// The checkpoint's one file: the state as a sequence of ops that rebuild it.
std::string Serialize(const KvState& state) {
  proto::PutObjects all;
  for (const auto& [key, values] : state) {
    for (const auto& v : values) {
      auto* p = all.add_objects();
      p->set_id(key);
      p->set_record_json(v);
    }
  }
  return all.SerializeAsString();
}

}  // namespace

void MemStore::ApplyOp(const proto::Op& op, KvState* state) {
  if (op.has_put_object()) {
    (*state)[op.put_object().id()].push_back(op.put_object().record_json());
  }
}

void MemStore::Crash() {
  if (log_end() > durable_end_) log_.resize(durable_end_ - base_);
  // Applies reach the disk in order with the log; what was applied past the last sync may or may
  // not survive: keep the older of the two, then rebuild the state from the log.
  applied_ = std::min(durable_applied_, durable_end_);
  applied_ = std::max(applied_, base_);
  state_ = base_state_;
  for (uint64_t l = base_ + 1; l <= applied_; ++l) ApplyOp(Entry(l), &state_);
  visible_ = std::min(durable_visible_, applied_);
  durable_visible_ = visible_;
}

std::vector<std::string> MemStore::Read(const std::string& key) const {
  std::vector<std::string> out;
  auto it = base_state_.find(key);
  if (it != base_state_.end()) out = it->second;
  for (uint64_t l = base_ + 1; l <= visible_; ++l) {
    const auto& op = Entry(l);
    if (op.has_put_object() && op.put_object().id() == key) {
      out.push_back(op.put_object().record_json());
    }
  }
  return out;
}

KvState MemStore::StateAt(uint64_t lsn) const {
  KvState s = base_state_;
  for (uint64_t l = base_ + 1; l <= lsn && l <= log_end(); ++l) ApplyOp(Entry(l), &s);
  return s;
}

uint64_t MemStore::Digest(const KvState& state) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const std::string& s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (const auto& [k, vs] : state) {
    mix(k);
    for (const auto& v : vs) mix(v);
  }
  return h;
}

Result<uint64_t> MemStore::EpochAt(uint64_t lsn) const {
  if (lsn == base_) return base_epoch_;
  if (lsn < base_ || lsn > log_end()) {
    return Status(Code::kNotFound, "entry " + std::to_string(lsn) + " not in the log");
  }
  return Entry(lsn).epoch();
}

Result<uint64_t> MemStore::Propose(uint64_t epoch, const Builder& build) {
  if (applied_ != log_end()) return Status(Code::kFailedPrecondition, "not applied to the end");
  proto::Op op;
  NoState view;
  MERIDIAN_RETURN_IF_ERROR(build(view, &op));
  op.set_lsn(log_end() + 1);
  op.set_epoch(epoch);
  op.set_format(kOpFormat);
  ApplyOp(op, &state_);
  log_.push_back(std::move(op));
  applied_ = log_end();
  return log_end();
}

Status MemStore::Append(const std::vector<proto::Op>& ops) {
  for (const auto& op : ops) {
    if (op.lsn() != log_end() + 1) {
      return Status(Code::kFailedPrecondition, "entry " + std::to_string(op.lsn()) +
                                                   " does not follow " + std::to_string(log_end()));
    }
    if (op.format() > kOpFormat) return Status(Code::kFailedPrecondition, "newer op format");
    log_.push_back(op);
  }
  return Status::Ok();
}

Result<uint64_t> MemStore::Sync() {
  durable_end_ = log_end();
  durable_applied_ = applied_;
  durable_visible_ = visible_;
  return durable_end_;
}

Status MemStore::TruncateAfter(uint64_t lsn) {
  if (lsn < applied_ || lsn > log_end()) {
    return Status(Code::kFailedPrecondition, "cannot truncate after " + std::to_string(lsn));
  }
  log_.resize(lsn - base_);
  durable_end_ = std::min(durable_end_, lsn);
  return Status::Ok();
}

Status MemStore::ApplyThrough(uint64_t lsn) {
  if (lsn > durable_end_) return Status(Code::kFailedPrecondition, "apply beyond the durable log");
  for (uint64_t l = applied_ + 1; l <= lsn; ++l) ApplyOp(Entry(l), &state_);
  applied_ = std::max(applied_, lsn);
  return Status::Ok();
}

Status MemStore::ReadLog(uint64_t from, size_t max_bytes, std::vector<proto::Op>* out) const {
  if (from <= base_) return Status(Code::kNotFound, "entries trimmed");
  size_t bytes = 0;
  for (uint64_t l = from; l <= log_end(); ++l) {
    out->push_back(Entry(l));
    bytes += Entry(l).ByteSizeLong();
    if (bytes >= max_bytes) break;
  }
  return Status::Ok();
}

Status MemStore::TrimLogThrough(uint64_t lsn) {
  if (lsn > applied_) return Status(Code::kFailedPrecondition, "trim beyond applied");
  if (lsn <= base_) return Status::Ok();
  for (uint64_t l = base_ + 1; l <= lsn; ++l) ApplyOp(Entry(l), &base_state_);
  base_epoch_ = Entry(lsn).epoch();
  log_.erase(log_.begin(), log_.begin() + static_cast<long>(lsn - base_));
  base_ = lsn;
  return Status::Ok();
}

Result<std::unique_ptr<CheckpointReader>> MemStore::OpenCheckpoint() {
  proto::CheckpointChunk c;
  c.set_lsn(applied_);
  auto e = EpochAt(applied_);
  if (!e.ok()) return e.status();
  c.set_epoch(*e);
  c.set_file("state");
  c.set_data(Serialize(state_));
  c.set_end_of_file(true);
  return std::unique_ptr<CheckpointReader>(new MemCheckpointReader(std::move(c)));
}

Result<std::unique_ptr<CheckpointWriter>> MemStore::BeginInstall() {
  return std::unique_ptr<CheckpointWriter>(new MemCheckpointWriter());
}

Status MemStore::Install(std::unique_ptr<CheckpointWriter> writer) {
  auto* w = static_cast<MemCheckpointWriter*>(writer.get());
  if (w->chunks.size() != 1) return Status(Code::kInvalidArgument, "incomplete checkpoint");
  const auto& c = w->chunks[0];
  proto::PutObjects all;
  if (!all.ParseFromString(c.data())) return Status(Code::kInvalidArgument, "corrupt checkpoint");
  KvState s;
  for (const auto& p : all.objects()) s[p.id()].push_back(p.record_json());
  base_state_ = s;
  state_ = std::move(s);
  base_ = applied_ = durable_end_ = durable_applied_ = c.lsn();
  base_epoch_ = c.epoch();
  log_.clear();
  return Status::Ok();
}

}  // namespace meridian::replication::sim
