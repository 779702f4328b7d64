#include "store/partition.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "common/encoding.h"
#include "store/keys.h"

namespace meridian::store {
namespace {

constexpr char kLogPrefix = 'L';

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Internal(std::string(what) + ": " + s.ToString());
}

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

class DbView final : public ReadView {
 public:
  DbView(rocksdb::DB* db, const rocksdb::Snapshot* snap) : db_(db), snap_(snap) {
    opts_.snapshot = snap;
  }
  ~DbView() override {
    if (snap_) db_->ReleaseSnapshot(snap_);
  }
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    std::string value;
    rocksdb::Status s = db_->Get(opts_, rocksdb::Slice(key.data(), key.size()), &value);
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
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(opts));
    return ScanIterator(it.get(), begin, end, reverse, fn);
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
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

  // The partition's own write of the log entry, which lies outside every tenant.
  void PutLogEntry(const std::string& key, const std::string& value) {
    batch_.Put(key, value).PermitUncheckedError();
  }
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

Partition::Partition(std::string id, rocksdb::DB* db, StateMachine* machine, bool sync,
                     uint64_t last)
    : id_(std::move(id)), db_(db), machine_(machine), sync_(sync), last_lsn_(last) {}

Partition::~Partition() = default;

Result<std::unique_ptr<Partition>> Partition::Open(std::string id, const std::string& path,
                                                   StateMachine* machine,
                                                   const PartitionOptions& options) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.env = options.env ? options.env : rocksdb::Env::Default();
  opts.max_background_jobs = 2;
  opts.keep_log_file_num = 4;
  opts.max_manifest_file_size = 16 << 20;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  opts.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* db = nullptr;
  MERIDIAN_RETURN_IF_ERROR(FromRocks(rocksdb::DB::Open(opts, path, &db), "open " + path));

  // The last LSN is the last log key: the log entry and its effects were committed together.
  uint64_t last = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    std::string end(1, kLogPrefix + 1);
    it->SeekForPrev(end);
    if (it->Valid() && it->key().compare(end) >= 0) it->Prev();
    if (it->Valid() && it->key().size() == 9 && it->key()[0] == kLogPrefix) {
      last = GetBigEndian64(it->key().ToStringView().substr(1));
    }
    if (!it->status().ok()) {
      delete db;
      return FromRocks(it->status(), "recover last lsn");
    }
  }
  return std::unique_ptr<Partition>(new Partition(std::move(id), db, machine, options.sync, last));
}

Status Partition::CheckWritable() const {
  if (write_failure_.ok()) return Status::Ok();
  return Status(Code::kUnavailable, "partition " + id_ + " refuses writes since a commit failed (" +
                                        write_failure_.message() + "); reopen it to recover");
}

Status Partition::Commit(const proto::Op& op) {
  std::string prefix;
  if (!op.tenant_id().empty()) {
    Status valid = ValidateTenantId(op.tenant_id());
    if (!valid.ok()) return Internal("op " + std::to_string(op.lsn()) + ": " + valid.message());
    prefix = TenantKeys(op.tenant_id()).prefix();
  }
  BatchContext ctx(db_.get(), std::move(prefix));
  Status applied = machine_->Apply(op, &ctx);
  // A violation fails the commit even when the apply ignored the refusal.
  MERIDIAN_RETURN_IF_ERROR(ctx.violation());
  MERIDIAN_RETURN_IF_ERROR(applied);
  std::string bytes;
  if (!op.SerializeToString(&bytes)) return Internal("cannot serialize op");
  ctx.PutLogEntry(LogKey(op.lsn()), bytes);
  rocksdb::WriteOptions wo;
  wo.sync = sync_;
  rocksdb::Status s = db_->Write(wo, ctx.batch());
  if (!s.ok()) {
    // RocksDB stops writing after a failed WAL write or sync; so do we, whatever it does.
    write_failure_ =
        Internal("commit of op " + std::to_string(op.lsn()) + " failed: " + s.ToString());
    return Internal("partition " + id_ + ": " + write_failure_.message() +
                    "; not acknowledged, and the partition refuses writes until reopened");
  }
  last_lsn_.store(op.lsn(), std::memory_order_release);
  return Status::Ok();
}

Result<uint64_t> Partition::Write(const Builder& build) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  proto::Op op;
  {
    DbView view(db_.get(), nullptr);
    MERIDIAN_RETURN_IF_ERROR(build(view, &op));
  }
  op.set_lsn(last_lsn_.load() + 1);
  MERIDIAN_RETURN_IF_ERROR(Commit(op));
  return op.lsn();
}

Status Partition::ApplyLogged(const proto::Op& op) {
  std::lock_guard<std::mutex> lock(write_mu_);
  MERIDIAN_RETURN_IF_ERROR(CheckWritable());
  if (op.lsn() != last_lsn_.load() + 1) {
    return Status(Code::kFailedPrecondition,
                  "op " + std::to_string(op.lsn()) + " does not follow " +
                      std::to_string(last_lsn_.load()));
  }
  return Commit(op);
}

Status Partition::ReadLog(uint64_t from_lsn,
                          const std::function<bool(const proto::Op&)>& fn) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  std::string end(1, kLogPrefix + 1);
  for (it->Seek(LogKey(from_lsn)); it->Valid() && it->key().compare(end) < 0; it->Next()) {
    proto::Op op;
    if (!op.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return Internal("corrupt log entry in partition " + id_);
    }
    if (!fn(op)) break;
  }
  return FromRocks(it->status(), "read log");
}

uint64_t Partition::last_lsn() const { return last_lsn_.load(std::memory_order_acquire); }

Status Partition::Writable() const {
  std::lock_guard<std::mutex> lock(write_mu_);
  return CheckWritable();
}

std::unique_ptr<ReadView> Partition::Latest() const {
  return std::make_unique<DbView>(db_.get(), nullptr);
}

std::unique_ptr<ReadView> Partition::Snapshot() const {
  return std::make_unique<DbView>(db_.get(), db_->GetSnapshot());
}

}  // namespace meridian::store
