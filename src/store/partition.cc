#include "store/partition.h"

#include <rocksdb/db.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <atomic>
#include <future>

#include "common/encoding.h"
#include "store/keys.h"

namespace meridian::store {
namespace {

constexpr char kLogPrefix = 'L';
// The meta keys (see the key space in partition.h). Under "M": outside every tenant and the log.
constexpr char kAppliedKey[] = "Mapplied";
constexpr char kBaseKey[] = "Mbase";
// The last visible LSN a Sync wrote down: what a restarted replica knows to be committed.
constexpr char kCommittedKey[] = "Mcommitted";

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Internal(std::string(what) + ": " + s.ToString());
}

Status NotAfter(const std::string& what) { return Status(Code::kFailedPrecondition, what); }

std::string Encode64(uint64_t v) {
  std::string out;
  PutBigEndian64(&out, v);
  return out;
}

// The first key after every log key.
std::string LogEnd() { return std::string(1, kLogPrefix + 1); }

Status ScanIterator(rocksdb::Iterator* it, std::string_view begin, std::string_view end,
                    bool reverse, const ReadView::Visitor& fn) {
  rocksdb::Slice b(begin.data(), begin.size()), e(end.data(), end.size());
  if (!reverse) {
    for (it->Seek(b); it->Valid() && it->key().compare(e) < 0; it->Next()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  } else {
    for (it->SeekForPrev(e), (it->Valid() && it->key().compare(e) >= 0) ? it->Prev() : void();
         it->Valid() && it->key().compare(b) >= 0; it->Prev()) {
      if (!fn(it->key().ToStringView(), it->value().ToStringView())) break;
    }
  }
  return FromRocks(it->status(), "scan");
}

// The logged op at `lsn`. kFailedPrecondition when there is none (trimmed, or past the end).
Result<proto::Op> ReadEntry(rocksdb::DB* db, uint64_t lsn) {
  std::string bytes;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), LogKey(lsn), &bytes);
  if (s.IsNotFound()) return NotAfter("log entry " + std::to_string(lsn) + " is not in the log");
  MERIDIAN_RETURN_IF_ERROR(FromRocks(s, "read log entry"));
  proto::Op op;
  if (!op.ParseFromString(bytes)) {
    return Internal("corrupt log entry " + std::to_string(lsn));
  }
  return op;
}

// Refuses an op this binary does not know how to apply.
Status CheckFormat(const proto::Op& op) {
  if (op.format() <= kOpFormat) return Status::Ok();
  return NotAfter("op " + std::to_string(op.lsn()) + " has format " +
                  std::to_string(op.format()) + ", newer than this node's " +
                  std::to_string(kOpFormat) + ": upgrade this node");
}

}  // namespace

// One open RocksDB database. The partition holds the current one; every view, snapshot and
// in-flight read holds the one it started on, so that an Install can replace it under them. The
// database closes when the last holder lets go, and its directory is then removed if an Install
// has made it obsolete (on whichever thread let go last).
class DbHandle {
 public:
  DbHandle(rocksdb::Env* env, std::string path, std::string dir, std::unique_ptr<rocksdb::DB> db)
      : env_(env), path_(std::move(path)), dir_(std::move(dir)), db_(std::move(db)) {}
  ~DbHandle() {
    db_.reset();
    // A failure leaves files that the next Open removes.
    if (obsolete_.load()) layout::RemoveDataDir(env_, path_, dir_).IgnoreError();
  }
  rocksdb::DB* db() const { return db_.get(); }
  const std::string& dir() const { return dir_; }
  void MarkObsolete() { obsolete_.store(true); }

 private:
  rocksdb::Env* const env_;
  const std::string path_, dir_;
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<bool> obsolete_{false};
};

namespace {

std::shared_ptr<const rocksdb::Snapshot> TakeSnapshot(const std::shared_ptr<DbHandle>& h) {
  // The deleter holds the handle, so the database outlives its snapshot.
  return std::shared_ptr<const rocksdb::Snapshot>(
      h->db()->GetSnapshot(), [h](const rocksdb::Snapshot* s) { h->db()->ReleaseSnapshot(s); });
}

class DbView final : public ReadView {
 public:
  // `snap` null: reads the latest state at each call.
  DbView(std::shared_ptr<DbHandle> db, std::shared_ptr<const rocksdb::Snapshot> snap)
      : db_(std::move(db)), snap_(std::move(snap)) {
    opts_.snapshot = snap_.get();
  }
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::string value;
    rocksdb::Status s = db_->db()->Get(opts_, rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "get");
    return std::optional<std::string>(std::move(value));
  }
  Status Scan(std::string_view begin, std::string_view end, bool reverse,
              const Visitor& fn) const override {
    // Bounds let RocksDB stop at the range's edge instead of skipping hidden entries past it.
    rocksdb::ReadOptions opts = opts_;
    rocksdb::Slice lower(begin.data(), begin.size()), upper(end.data(), end.size());
    opts.iterate_lower_bound = &lower;
    opts.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->db()->NewIterator(opts));
    return ScanIterator(it.get(), begin, end, reverse, fn);
  }

 private:
  const std::shared_ptr<DbHandle> db_;
  const std::shared_ptr<const rocksdb::Snapshot> snap_;
  rocksdb::ReadOptions opts_;
};

}  // namespace

// The state an apply sees: committed state overlaid with the batch being built. With a
// non-empty tenant prefix it confines the apply to that tenant's keys (see WriteContext in
// partition.h): an access outside is refused and the first one kept as violation().
class BatchContext final : public WriteContext {
 public:
  // `tenant_prefix` empty: unconfined (the global directory's ops).
  BatchContext(rocksdb::DB* db, std::string tenant_prefix)
      : db_(db),
        batch_(rocksdb::BytewiseComparator(), 0, true),
        prefix_(std::move(tenant_prefix)) {}
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    MERIDIAN_RETURN_IF_ERROR(CheckKey("get", key));
    std::string value;
    rocksdb::Status s = const_cast<rocksdb::WriteBatchWithIndex&>(batch_).GetFromBatchAndDB(
        db_, rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "get");
    return std::optional<std::string>(std::move(value));
  }
  Status Scan(std::string_view begin, std::string_view end, bool reverse,
              const Visitor& fn) const override {
    if (!prefix_.empty() && !RangeInPrefix(prefix_, begin, end)) {
      return Violation("scan of [" + PrintableKey(begin) + ", " + PrintableKey(end) + ")");
    }
    std::unique_ptr<rocksdb::Iterator> it(
        const_cast<rocksdb::WriteBatchWithIndex&>(batch_).NewIteratorWithBase(
            db_->NewIterator(rocksdb::ReadOptions())));
    return ScanIterator(it.get(), begin, end, reverse, fn);
  }
  void Put(std::string_view key, std::string_view value) override {
    if (!CheckKey("put", key).ok()) return;
    batch_.Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size()))
        .PermitUncheckedError();
  }
  void Delete(std::string_view key) override {
    if (!CheckKey("delete", key).ok()) return;
    batch_.Delete(rocksdb::Slice(key.data(), key.size())).PermitUncheckedError();
  }

  // The partition's own writes (the log entry, meta keys), which lie outside every tenant.
  void PutOwn(const std::string& key, const std::string& value) {
    batch_.Put(key, value).PermitUncheckedError();
  }
  void DeleteOwn(const std::string& key) { batch_.Delete(key).PermitUncheckedError(); }
  // The first access outside the tenant, or Ok.
  const Status& violation() const { return violation_; }
  rocksdb::WriteBatch* batch() { return batch_.GetWriteBatch(); }

 private:
  Status CheckKey(const char* what, std::string_view key) const {
    if (prefix_.empty() || KeyInPrefix(prefix_, key)) return Status::Ok();
    return Violation(std::string(what) + " of " + PrintableKey(key));
  }
  Status Violation(const std::string& what) const {
    Status s =
        Internal("tenant isolation: " + what + " outside " + PrintableKey(prefix_) + " refused");
    if (violation_.ok()) violation_ = s;
    return s;
  }

  rocksdb::DB* db_;
  rocksdb::WriteBatchWithIndex batch_;
  const std::string prefix_;
  mutable Status violation_;
};

std::string LogKey(uint64_t lsn) {
  std::string k(1, kLogPrefix);
  PutBigEndian64(&k, lsn);
  return k;
}

namespace {

rocksdb::Env* EnvOf(const PartitionOptions& options) {
  return options.env ? options.env : rocksdb::Env::Default();
}

// Opens the database in `dir`; creates it only when `create` (a partition's own directory, never
// a directory that ACTIVE names or a staged checkpoint: those must exist).
Result<std::unique_ptr<rocksdb::DB>> OpenDb(const PartitionOptions& options,
                                            const std::shared_ptr<rocksdb::Cache>& cache,
                                            const std::string& dir, bool create) {
  rocksdb::Options opts;
  opts.create_if_missing = create;
  opts.env = EnvOf(options);
  opts.max_background_jobs = 2;
  opts.keep_log_file_num = 4;
  opts.max_manifest_file_size = 16 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  MERIDIAN_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(opts, dir, &db), "open " + dir));
  return std::unique_ptr<rocksdb::DB>(db);
}

Result<std::optional<std::string>> GetRaw(rocksdb::DB* db, const std::string& key) {
  std::string value;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  MERIDIAN_RETURN_IF_ERROR(FromRocks(s, "read " + key));
  return std::optional<std::string>(std::move(value));
}

}  // namespace

// The positions a database holds: base from "Mbase", the log's end from its last entry (the log
// entry and its effects were committed together), applied from "Mapplied" or the log's end.
// Every entry written since open was written by this process, so the recovered log is durable:
// RocksDB's recovery flushes what it replays from the write-ahead log.
Result<Partition::Positions> Partition::Recover(rocksdb::DB* db) {
  Positions pos;
  MERIDIAN_ASSIGN_OR_RETURN(auto base, GetRaw(db, kBaseKey));
  if (base) {
    if (base->size() != 16) return Internal("corrupt meta key Mbase");
    pos.base = GetBigEndian64(*base);
    pos.base_epoch = GetBigEndian64(std::string_view(*base).substr(8));
  }
  pos.log_end = pos.base;
  pos.log_end_epoch = pos.base_epoch;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::string end = LogEnd();
    it->SeekForPrev(end);
    if (it->Valid() && it->key().compare(end) >= 0) it->Prev();
    if (it->Valid() && it->key().size() == 9 && it->key()[0] == kLogPrefix) {
      uint64_t last = GetBigEndian64(it->key().ToStringView().substr(1));
      if (last > pos.base) {
        proto::Op op;
        if (!op.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return Internal("corrupt log entry " + std::to_string(last));
        }
        pos.log_end = last;
        pos.log_end_epoch = op.epoch();
      }
    }
    MERIDIAN_RETURN_IF_ERROR(FromRocks(it->status(), "recover last lsn"));
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto applied, GetRaw(db, kAppliedKey));
  pos.applied = pos.log_end;
  if (applied) {
    if (applied->size() != 8) return Internal("corrupt meta key Mapplied");
    pos.applied = GetBigEndian64(*applied);
  }
  if (pos.applied < pos.base || pos.applied > pos.log_end) {
    return Internal("meta keys out of step: base " + std::to_string(pos.base) + ", applied " +
                    std::to_string(pos.applied) + ", log end " + std::to_string(pos.log_end));
  }
  pos.durable_end = pos.log_end;
  pos.visible = pos.applied;
  MERIDIAN_ASSIGN_OR_RETURN(auto committed, GetRaw(db, kCommittedKey));
  pos.known_committed = pos.applied;
  if (committed) {
    if (committed->size() != 8) return Internal("corrupt meta key Mcommitted");
    pos.known_committed = std::min(GetBigEndian64(*committed), pos.applied);
  }
  pos.confirmed = pos.known_committed;
  return pos;
}

// The epoch at `lsn` in a database at positions `pos` (see EpochAt).
Result<uint64_t> Partition::EpochIn(rocksdb::DB* db, const Positions& pos, uint64_t lsn) {
  if (lsn == 0) return uint64_t{0};
  if (lsn == pos.base) return pos.base_epoch;
  if (lsn == pos.log_end) return pos.log_end_epoch;
  if (lsn < pos.base || lsn > pos.log_end) {
    return NotAfter("lsn " + std::to_string(lsn) + " is outside the log (" +
                    std::to_string(pos.base) + ", " + std::to_string(pos.log_end) + "]");
  }
  MERIDIAN_ASSIGN_OR_RETURN(proto::Op op, ReadEntry(db, lsn));
  return uint64_t{op.epoch()};
}

Partition::Partition(std::string id, std::string path, std::shared_ptr<DbHandle> db,
                     StateMachine* machine, const PartitionOptions& options,
                     std::shared_ptr<rocksdb::Cache> cache, const Positions& pos)
    : id_(std::move(id)),
      path_(std::move(path)),
      machine_(machine),
      options_(options),
      cache_(std::move(cache)),
      db_(std::move(db)),
      pos_(pos) {}

Partition::~Partition() = default;

Result<std::unique_ptr<Partition>> Partition::Open(std::string id, const std::string& path,
                                                   StateMachine* machine,
                                                   const PartitionOptions& options) {
  rocksdb::Env* env = EnvOf(options);
  MERIDIAN_ASSIGN_OR_RETURN(std::string dir, layout::ActiveDir(env, path));
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  MERIDIAN_ASSIGN_OR_RETURN(auto db, OpenDb(options, cache, dir, /*create=*/dir == path));
  MERIDIAN_ASSIGN_OR_RETURN(Positions pos, Recover(db.get()));
  MERIDIAN_RETURN_IF_ERROR(layout::RemoveLeftovers(env, path, dir));
  auto handle = std::make_shared<DbHandle>(env, path, dir, std::move(db));
  return std::unique_ptr<Partition>(
      new Partition(std::move(id), path, std::move(handle), machine, options, cache, pos));
}

Status Partition::CheckWritable() const {
  if (write_failure_.ok()) return Status::Ok();
  return Status(Code::kUnavailable, "partition " + id_ + " refuses writes since a commit failed (" +
                                        write_failure_.message() + "); reopen it to recover");
}

Status Partition::WriteOrStop(rocksdb::WriteBatch* batch, bool sync, const std::string& what) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  rocksdb::Status s = db_->db()->Write(wo, batch);
  if (s.ok()) return Status::Ok();
  // RocksDB stops writing after a failed WAL write or sync; so do we, whatever it does.
  write_failure_ = Internal(what + " failed: " + s.ToString());
  return Internal("partition " + id_ + ": " + write_failure_.message() +
                  "; not acknowledged, and the partition refuses writes until reopened");
}

// ------------------------------------------------------------------ visibility
//
// Without tracking, readers read the database: a Snapshot() takes a RocksDB snapshot, Latest()
// reads without one. With tracking, every view reads a RocksDB snapshot:
//   - `pinned_` null: visible == applied and no change is being written; a view takes a fresh
//     snapshot (under mu_, so that no change can slip in between the check and the snapshot).
//   - `pinned_` set: the snapshot of the highest state whose LSN is <= visible; every view shares
//     it. BeginStateChange pins the current state before a change is written; Publish files a
//     snapshot of the new state in `pending_` by its applied LSN; SetVisible moves the pin to the
//     highest pending snapshot it reaches and unpins once visible == applied and no change is in
//     flight. Snapshots are shared, so a view keeps its own alive after the pin has moved on.

void Partition::BeginStateChange() {
  if (!options_.track_visibility) return;
  std::lock_guard<std::mutex> lock(mu_);
  changing_ = true;
  if (!pinned_) pinned_ = TakeSnapshot(db_);
}

void Partition::Publish(const Positions& next) {
  std::lock_guard<std::mutex> lock(mu_);
  bool state_changed = next.applied != pos_.applied;
  pos_ = next;
  changing_ = false;
  if (options_.track_visibility && state_changed) pending_[next.applied] = TakeSnapshot(db_);
}

void Partition::SetVisible(uint64_t lsn) {
  std::map<uint64_t, SnapshotRef> dropped;  // released after mu_
  SnapshotRef old_pin;
  std::lock_guard<std::mutex> lock(mu_);
  lsn = std::min(lsn, pos_.applied);
  pos_.confirmed = std::max(pos_.confirmed, lsn);
  if (lsn <= pos_.visible) return;
  pos_.visible = lsn;
  if (!options_.track_visibility) return;
  auto reached = pending_.upper_bound(lsn);  // the first snapshot beyond what is visible
  if (reached != pending_.begin()) {
    old_pin = std::move(pinned_);
    pinned_ = std::prev(reached)->second;
    dropped.insert(pending_.begin(), reached);
    pending_.erase(pending_.begin(), reached);
  }
  if (lsn == pos_.applied && !changing_) {
    old_pin = std::move(pinned_);
    pinned_.reset();
    dropped.merge(pending_);
  }
}

Partition::Positions Partition::Read(std::shared_ptr<DbHandle>* db) const {
  std::lock_guard<std::mutex> lock(mu_);
  *db = db_;
  return pos_;
}

std::unique_ptr<ReadView> Partition::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!options_.track_visibility) return std::make_unique<DbView>(db_, nullptr);
  return std::make_unique<DbView>(db_, pinned_ ? pinned_ : TakeSnapshot(db_));
}

std::unique_ptr<ReadView> Partition::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return std::make_unique<DbView>(db_, pinned_ ? pinned_ : TakeSnapshot(db_));
}

// ------------------------------------------------------------------ writes

Status Partition::CheckFollows(const proto::Op& op, uint64_t lsn, uint64_t prev_epoch) const {
  if (op.lsn() != lsn) {
    return NotAfter("op " + std::to_string(op.lsn()) + " does not follow " +
                    std::to_string(lsn - 1));
  }
  MERIDIAN_RETURN_IF_ERROR(CheckFormat(op));
  if (op.epoch() < prev_epoch) {
    return NotAfter("op " + std::to_string(op.lsn()) + " has epoch " + std::to_string(op.epoch()) +
                    ", older than the entry before it (" + std::to_string(prev_epoch) + ")");
  }
  return Status::Ok();
}

Status Partition::Commit(const proto::Op& op, bool log, bool sync) {
  std::string prefix;
  if (!op.tenant_id().empty()) {
    Status valid = ValidateTenantId(op.tenant_id());
    if (!valid.ok()) return Internal("op " + std::to_string(op.lsn()) + ": " + valid.message());
    prefix = TenantKeys(op.tenant_id()).prefix();
  }
  BatchContext ctx(db_->db(), std::move(prefix));
  Status applied = machine_->Apply(op, &ctx);
  // A violation fails the commit even when the apply ignored the refusal.
  MERIDIAN_RETURN_IF_ERROR(ctx.violation());
  MERIDIAN_RETURN_IF_ERROR(applied);
  Positions next = pos_;
  next.applied = op.lsn();
  if (log) {
    std::string bytes;
    if (!op.SerializeToString(&bytes)) return Internal("cannot serialize op");
    ctx.PutOwn(LogKey(op.lsn()), bytes);
    next.log_end = op.lsn();
    next.log_end_epoch = op.epoch();
  } else if (op.lsn() < pos_.log_end) {
    ctx.PutOwn(kAppliedKey, Encode64(op.lsn()));
  } else {
    ctx.DeleteOwn(kAppliedKey);  // applied == log end again: the key's absence says so
  }
  // A synced write makes every earlier write of the log durable as well.
  if (sync) next.durable_end = next.log_end;
  BeginStateChange();
  Status s = WriteOrStop(ctx.batch(), sync, "commit of op " + std::to_string(op.lsn()));
  Publish(s.ok() ? next : pos_);
  return s;
}

Result<uint64_t> Partition::BuildAndCommit(uint64_t epoch, const Builder& build, bool sync) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (pos_.applied != pos_.log_end) {
    return NotAfter("partition " + id_ + " has log entries not applied yet (applied " +
                    std::to_string(pos_.applied) + ", log end " + std::to_string(pos_.log_end) +
                    ")");
  }
  if (epoch < pos_.log_end_epoch) {
    return NotAfter("epoch " + std::to_string(epoch) + " is older than the log's last entry's (" +
                    std::to_string(pos_.log_end_epoch) + ")");
  }
  proto::Op op;
  {
    // The latest state, every proposed op included, whatever readers may see.
    DbView view(db_, nullptr);
    MERIDIAN_RETURN_IF_ERROR(build(view, &op));
  }
  op.set_lsn(pos_.log_end + 1);
  op.set_epoch(epoch);
  op.set_format(kOpFormat);
  MERIDIAN_RETURN_IF_ERROR(Commit(op, /*log=*/true, sync));
  return op.lsn();
}

Result<uint64_t> Partition::Write(const Builder& build) {
  if (!write_hook_) return BuildAndCommit(/*epoch=*/0, build, options_.sync);
  std::promise<Result<Ack>> promise;
  std::future<Result<Ack>> future = promise.get_future();
  write_hook_(build, [&promise](Result<Ack> ack) { promise.set_value(std::move(ack)); });
  MERIDIAN_ASSIGN_OR_RETURN(Ack ack, future.get());
  return ack.lsn;
}

void Partition::WriteAsync(const Builder& build, WriteDone done) {
  if (write_hook_) return write_hook_(build, std::move(done));
  Result<uint64_t> lsn = BuildAndCommit(/*epoch=*/0, build, options_.sync);
  if (!lsn.ok()) return done(lsn.status());
  done(Ack{*lsn, 0});
}

Result<uint64_t> Partition::Propose(uint64_t epoch, const Builder& build) {
  return BuildAndCommit(epoch, build, /*sync=*/false);
}

Status Partition::ApplyLogged(const proto::Op& op) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (pos_.applied != pos_.log_end) {
    return NotAfter("partition " + id_ + " has log entries not applied yet");
  }
  MERIDIAN_RETURN_IF_ERROR(CheckFollows(op, pos_.log_end + 1, pos_.log_end_epoch));
  return Commit(op, /*log=*/true, options_.sync);
}

Status Partition::Append(const std::vector<proto::Op>& ops) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (ops.empty()) return Status::Ok();
  rocksdb::WriteBatch batch;
  Positions next = pos_;
  for (const proto::Op& op : ops) {
    MERIDIAN_RETURN_IF_ERROR(CheckFollows(op, next.log_end + 1, next.log_end_epoch));
    std::string bytes;
    if (!op.SerializeToString(&bytes)) return Internal("cannot serialize op");
    batch.Put(LogKey(op.lsn()), bytes).PermitUncheckedError();
    next.log_end = op.lsn();
    next.log_end_epoch = op.epoch();
  }
  batch.Put(kAppliedKey, Encode64(pos_.applied)).PermitUncheckedError();
  MERIDIAN_RETURN_IF_ERROR(WriteOrStop(&batch, /*sync=*/false,
                                       "append of ops " + std::to_string(ops.front().lsn()) +
                                           ".." + std::to_string(next.log_end)));
  Publish(next);
  return Status::Ok();
}

Result<uint64_t> Partition::Sync() {
  std::shared_ptr<DbHandle> db;
  uint64_t end, generation;
  {
    std::lock_guard<std::mutex> lock(write_mu_);
    MERIDIAN_RETURN_IF_ERROR(CheckWritable());
    db = db_;
    end = pos_.log_end;
    generation = log_generation_;
  }
  // With visibility tracking, the visible point goes to disk with the log: it is what a
  // restarted replica knows to be committed (see known_committed()).
  if (options_.track_visibility) {
    uint64_t visible = Current().confirmed;
    std::lock_guard<std::mutex> lock(write_mu_);
    if (!persisted_committed_ || visible > *persisted_committed_) {
      rocksdb::WriteBatch batch;
      batch.Put(kCommittedKey, Encode64(visible)).PermitUncheckedError();
      MERIDIAN_RETURN_IF_ERROR(WriteOrStop(&batch, /*sync=*/false, "visible point"));
      persisted_committed_ = visible;
    }
  }
  // Outside the write lock: ops proposed meanwhile wait for the next Sync, not for this one.
  rocksdb::Status s = db->db()->SyncWAL();
  std::lock_guard<std::mutex> lock(write_mu_);
  if (!s.ok()) {
    if (write_failure_.ok()) write_failure_ = Internal("sync of the log failed: " + s.ToString());
    return Internal("partition " + id_ + ": sync of the log failed (" + s.ToString() +
                    "); the partition refuses writes until reopened");
  }
  // A truncation or install meanwhile may have replaced entries up to `end` with unsynced ones.
  if (generation == log_generation_ && end > pos_.durable_end) {
    Positions next = pos_;
    next.durable_end = end;
    Publish(next);
  }
  return pos_.durable_end;
}

Status Partition::TruncateAfter(uint64_t lsn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (lsn < pos_.applied || lsn > pos_.log_end) {
    return NotAfter("cannot truncate the log after " + std::to_string(lsn) + ": applied " +
                    std::to_string(pos_.applied) + ", log end " + std::to_string(pos_.log_end));
  }
  if (lsn == pos_.log_end) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t epoch, EpochIn(db_->db(), pos_, lsn));
  rocksdb::WriteBatch batch;
  batch.DeleteRange(LogKey(lsn + 1), LogEnd()).PermitUncheckedError();
  if (lsn == pos_.applied) batch.Delete(kAppliedKey).PermitUncheckedError();
  MERIDIAN_RETURN_IF_ERROR(
      WriteOrStop(&batch, /*sync=*/true, "truncation after " + std::to_string(lsn)));
  ++log_generation_;
  Positions next = pos_;
  next.log_end = lsn;
  next.log_end_epoch = epoch;
  next.durable_end = lsn;
  Publish(next);
  return Status::Ok();
}

Status Partition::ApplyThrough(uint64_t lsn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (lsn <= pos_.applied) return Status::Ok();
  if (lsn > pos_.durable_end) {
    return NotAfter("cannot apply through " + std::to_string(lsn) + ": the log is durable through " +
                    std::to_string(pos_.durable_end));
  }
  while (pos_.applied < lsn) {
    MERIDIAN_ASSIGN_OR_RETURN(proto::Op op, ReadEntry(db_->db(), pos_.applied + 1));
    MERIDIAN_RETURN_IF_ERROR(CheckFormat(op));
    MERIDIAN_RETURN_IF_ERROR(Commit(op, /*log=*/false, /*sync=*/false));
  }
  return Status::Ok();
}

Status Partition::TrimLogThrough(uint64_t lsn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (lsn > pos_.applied) {
    return NotAfter("cannot trim the log through " + std::to_string(lsn) + ": applied " +
                    std::to_string(pos_.applied));
  }
  if (lsn <= pos_.base) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t epoch, EpochIn(db_->db(), pos_, lsn));
  rocksdb::WriteBatch batch;
  batch.DeleteRange(LogKey(0), LogKey(lsn + 1)).PermitUncheckedError();
  batch.Put(kBaseKey, Encode64(lsn) + Encode64(epoch)).PermitUncheckedError();
  MERIDIAN_RETURN_IF_ERROR(
      WriteOrStop(&batch, /*sync=*/false, "trim of the log through " + std::to_string(lsn)));
  Positions next = pos_;
  next.base = lsn;
  next.base_epoch = epoch;
  Publish(next);
  return Status::Ok();
}

// ------------------------------------------------------------------ the log

Result<uint64_t> Partition::EpochAt(uint64_t lsn) const {
  std::shared_ptr<DbHandle> db;
  Positions pos = Read(&db);
  return EpochIn(db->db(), pos, lsn);
}

Status Partition::ReadLog(uint64_t from_lsn,
                          const std::function<bool(const proto::Op&)>& fn) const {
  std::shared_ptr<DbHandle> db;
  Positions pos = Read(&db);
  if (pos.base > 0 && from_lsn <= pos.base) {
    return NotAfter("log entries through " + std::to_string(pos.base) + " were trimmed; " +
                    std::to_string(from_lsn) + " is gone");
  }
  std::unique_ptr<rocksdb::Iterator> it(db->db()->NewIterator(rocksdb::ReadOptions()));
  std::string end = LogEnd();
  uint64_t expect = std::max<uint64_t>(from_lsn, 1);
  for (it->Seek(LogKey(from_lsn)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    proto::Op op;
    if (!op.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Internal("corrupt log entry in partition " + id_);
    }
    // A trim between reading base and opening the iterator takes the first entries away.
    if (op.lsn() != expect) {
      return NotAfter("log entry " + std::to_string(expect) + " of partition " + id_ +
                      " is gone (trimmed)");
    }
    ++expect;
    if (!fn(op)) break;
  }
  return FromRocks(it->status(), "read log");
}

Status Partition::ReadLog(uint64_t from_lsn, size_t max_bytes,
                          std::vector<proto::Op>* out) const {
  size_t total = 0;
  bool first = true;
  return ReadLog(from_lsn, [&](const proto::Op& op) {
    size_t n = op.ByteSizeLong();
    if (!first && total + n > max_bytes) return false;
    out->push_back(op);
    total += n;
    first = false;
    return total < max_bytes;
  });
}

// ------------------------------------------------------------------ checkpoints

Result<std::unique_ptr<Checkpoint>> Partition::OpenCheckpoint() {
  rocksdb::Env* env = EnvOf(options_);
  // Under the write lock, so that the position read matches the state copied.
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_ASSIGN_OR_RETURN(std::string name, layout::NewSubdir(env, path_, "checkpoint"));
  std::string dir = path_ + "/" + name;
  rocksdb::Checkpoint* raw = nullptr;
  MERIDIAN_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(db_->db(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> maker(raw);
  // The default flushes the memtable first, so that the checkpoint holds every write so far.
  MERIDIAN_RETURN_IF_ERROR(FromRocks(maker->CreateCheckpoint(dir), "checkpoint into " + dir));
  MERIDIAN_ASSIGN_OR_RETURN(uint64_t epoch, EpochIn(db_->db(), pos_, pos_.applied));
  auto files = layout::ListDir(env, dir);
  if (!files.ok()) {
    Checkpoint discard(env, dir, 0, 0, {});  // its destructor removes the directory
    return files.status();
  }
  return std::make_unique<Checkpoint>(env, dir, pos_.applied, epoch, std::move(files).value());
}

Result<std::unique_ptr<CheckpointStaging>> Partition::BeginInstall() {
  rocksdb::Env* env = EnvOf(options_);
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  MERIDIAN_ASSIGN_OR_RETURN(std::string name, layout::NewSubdir(env, path_, "data"));
  std::string dir = path_ + "/" + name;
  rocksdb::IOStatus made = env->GetFileSystem()->CreateDir(dir, rocksdb::IOOptions(), nullptr);
  if (!made.ok()) return Internal("create " + dir + ": " + made.ToString());
  return std::make_unique<CheckpointStaging>(env, dir);
}

Status Partition::Install(std::unique_ptr<CheckpointStaging> staged, uint64_t lsn,
                          uint64_t epoch) {
  rocksdb::Env* env = EnvOf(options_);
  if (!staged) return InvalidArgument("no checkpoint to install");
  std::string name = staged->dir().substr(staged->dir().rfind('/') + 1);
  if (staged->dir() != path_ + "/" + name) {
    return InvalidArgument("checkpoint " + staged->dir() + " was not staged for partition " + id_);
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  MERIDIAN_RETURN_IF_ERROR(staged->Finish());
  Positions got;
  {
    // Declared after `staged`, so closed before a failure removes the directory.
    MERIDIAN_ASSIGN_OR_RETURN(auto db, OpenDb(options_, cache_, staged->dir(), /*create=*/false));
    MERIDIAN_ASSIGN_OR_RETURN(got, Recover(db.get()));
    MERIDIAN_ASSIGN_OR_RETURN(uint64_t got_epoch, EpochIn(db.get(), got, got.applied));
    if (got.applied != lsn || got_epoch != epoch) {
      return InvalidArgument("checkpoint announced lsn " + std::to_string(lsn) + " epoch " +
                             std::to_string(epoch) + " but holds lsn " +
                             std::to_string(got.applied) + " epoch " + std::to_string(got_epoch));
    }
    // The checkpoint's state covers its log through lsn, and entries after lsn were not applied
    // there: this replica starts with an empty log based at lsn.
    rocksdb::WriteBatch batch;
    batch.DeleteRange(std::string(1, kLogPrefix), LogEnd()).PermitUncheckedError();
    batch.Delete(kAppliedKey).PermitUncheckedError();
    batch.Put(kBaseKey, Encode64(lsn) + Encode64(epoch)).PermitUncheckedError();
    rocksdb::WriteOptions wo;
    wo.sync = true;
    MERIDIAN_RETURN_IF_ERROR(FromRocks(db->Write(wo, &batch), "reset the checkpoint's log"));
    if (options_.install_fail_point) {
      MERIDIAN_RETURN_IF_ERROR(options_.install_fail_point("install:before-switch"));
    }

    Status switched = layout::SwitchActive(env, path_, name);
    // From the rename on, the staged directory may be the live one: never remove it here.
    staged->Release();
    if (switched.ok() && options_.install_fail_point) {
      switched = options_.install_fail_point("install:after-switch");
    }
    if (!switched.ok()) {
      // ACTIVE may name either directory now: only a reopen knows which is live.
      write_failure_ = Internal("install of a checkpoint failed: " + switched.message());
      return Internal("partition " + id_ + ": " + write_failure_.message() +
                      "; the partition refuses writes until reopened");
    }
    auto handle = std::make_shared<DbHandle>(env, path_, staged->dir(), std::move(db));
    std::shared_ptr<DbHandle> old;
    SnapshotRef old_pin;
    std::map<uint64_t, SnapshotRef> old_pending;
    {
      std::lock_guard<std::mutex> state_lock(mu_);
      old = std::move(db_);
      db_ = std::move(handle);
      old_pin = std::move(pinned_);
      old_pending.swap(pending_);
      pinned_.reset();
      changing_ = false;
      pos_ = Positions{lsn, epoch, lsn, lsn, lsn, epoch, lsn, /*known_committed=*/0,
                       /*confirmed=*/0};
    }
    ++log_generation_;
    persisted_committed_.reset();  // the new database has not recorded one
    // Removed once the last view of the old state lets go (perhaps right here).
    old->MarkObsolete();
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ positions

Partition::Positions Partition::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pos_;
}

uint64_t Partition::last_lsn() const { return Current().log_end; }
uint64_t Partition::applied() const { return Current().applied; }
uint64_t Partition::durable_end() const { return Current().durable_end; }
uint64_t Partition::base() const { return Current().base; }
uint64_t Partition::base_epoch() const { return Current().base_epoch; }
uint64_t Partition::visible() const { return Current().visible; }
uint64_t Partition::known_committed() const { return Current().known_committed; }

Status Partition::Writable() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return CheckWritable();
}

}  // namespace meridian::store
