#include "store/testing/fault_env.h"

#include <rocksdb/file_system.h>

#include <algorithm>
#include <atomic>
#include <string>

namespace meridian::store {

struct FaultEnv::State {
  std::atomic<uint64_t> wal_syncs{0};
  std::atomic<bool> fail_next_wal_sync{false};
  std::atomic<SyncFailure> sync_failure{SyncFailure::kDropUnsynced};
  std::atomic<WriteFault> write_fault{WriteFault::kNone};
  std::atomic<uint64_t> injected{0};
};

namespace {

using rocksdb::DataVerificationInfo;
using rocksdb::FileOptions;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

bool IsWal(const std::string& name) {
  return name.size() >= 4 && name.compare(name.size() - 4, 4, ".log") == 0;
}

// One file opened for writing. RocksDB uses a writable file from one thread at a time, so the
// sizes need no lock; the shared State is atomic.
class FaultFile final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  FaultFile(std::unique_ptr<FSWritableFile> file, std::string name, FaultEnv::State* state)
      : FSWritableFileOwnerWrapper(std::move(file)),
        wal_(IsWal(name)),
        name_(std::move(name)),
        state_(state),
        size_(target()->GetFileSize(IOOptions(), nullptr)),
        synced_(size_) {}

  IOStatus Append(const Slice& data, const IOOptions& o, IODebugContext* dbg) override {
    if (IOStatus f = CheckAppend(); !f.ok()) return f;
    IOStatus s = target()->Append(data, o, dbg);
    if (s.ok()) size_ += data.size();
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& o, const DataVerificationInfo& v,
                  IODebugContext* dbg) override {
    if (IOStatus f = CheckAppend(); !f.ok()) return f;
    IOStatus s = target()->Append(data, o, v, dbg);
    if (s.ok()) size_ += data.size();
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            IODebugContext* dbg) override {
    if (IOStatus f = CheckAppend(); !f.ok()) return f;
    IOStatus s = target()->PositionedAppend(data, offset, o, dbg);
    if (s.ok()) size_ = std::max(size_, offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& o,
                            const DataVerificationInfo& v, IODebugContext* dbg) override {
    if (IOStatus f = CheckAppend(); !f.ok()) return f;
    IOStatus s = target()->PositionedAppend(data, offset, o, v, dbg);
    if (s.ok()) size_ = std::max(size_, offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& o, IODebugContext* dbg) override {
    IOStatus s = target()->Truncate(size, o, dbg);
    if (s.ok()) {
      size_ = size;
      synced_ = std::min(synced_, size);
    }
    return s;
  }
  IOStatus Sync(const IOOptions& o, IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Sync(o, dbg); });
  }
  IOStatus Fsync(const IOOptions& o, IODebugContext* dbg) override {
    return SyncWith([&] { return target()->Fsync(o, dbg); });
  }

 private:
  template <typename F>
  IOStatus SyncWith(const F& sync) {
    if (poisoned_)
      return Injected(IOStatus::IOError("injected: " + name_ + " lost data at a failed sync"));
    if (wal_ && state_->fail_next_wal_sync.exchange(false)) {
      if (state_->sync_failure.load() == SyncFailure::kDropUnsynced) {
        // Drop what was not synced, as a kernel that gives up on the dirty pages would.
        target()->Truncate(synced_, IOOptions(), nullptr).PermitUncheckedError();
        size_ = synced_;
      }
      poisoned_ = true;
      return Injected(IOStatus::IOError("injected: fsync of " + name_ + " failed"));
    }
    IOStatus s = sync();
    if (s.ok()) {
      synced_ = size_;
      if (wal_) state_->wal_syncs.fetch_add(1);
    }
    return s;
  }

  IOStatus CheckAppend() {
    if (poisoned_)
      return Injected(IOStatus::IOError("injected: " + name_ + " lost data at a failed sync"));
    switch (state_->write_fault.load()) {
      case WriteFault::kNone:
        return IOStatus::OK();
      case WriteFault::kIoError:
        return Injected(IOStatus::IOError("injected: write to " + name_ + " failed (EIO)"));
      case WriteFault::kNoSpace:
        return Injected(IOStatus::NoSpace("injected: no space left on device writing " + name_));
    }
    return IOStatus::OK();
  }

  IOStatus Injected(IOStatus s) {
    state_->injected.fetch_add(1);
    return s;
  }

  const bool wal_;
  const std::string name_;
  FaultEnv::State* const state_;
  uint64_t size_;
  uint64_t synced_;
  bool poisoned_ = false;
};

class FaultFileSystem final : public rocksdb::FileSystemWrapper {
 public:
  FaultFileSystem(const std::shared_ptr<rocksdb::FileSystem>& base,
                  std::shared_ptr<FaultEnv::State> state)
      : FileSystemWrapper(base), state_(std::move(state)) {}
  const char* Name() const override { return "MeridianFaultFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const FileOptions& fo,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->NewWritableFile(f, fo, r, dbg), r);
  }
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& fo,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->ReopenWritableFile(f, fo, r, dbg), r);
  }
  IOStatus ReuseWritableFile(const std::string& f, const std::string& old, const FileOptions& fo,
                             std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return Wrap(f, target()->ReuseWritableFile(f, old, fo, r, dbg), r);
  }

 private:
  IOStatus Wrap(const std::string& name, IOStatus s, std::unique_ptr<FSWritableFile>* r) {
    if (s.ok()) *r = std::make_unique<FaultFile>(std::move(*r), name, state_.get());
    return s;
  }
  std::shared_ptr<FaultEnv::State> state_;
};

}  // namespace

FaultEnv::FaultEnv() : FaultEnv(std::make_shared<State>()) {}

FaultEnv::FaultEnv(std::shared_ptr<State> state)
    : EnvWrapper(rocksdb::NewCompositeEnv(
          std::make_shared<FaultFileSystem>(rocksdb::FileSystem::Default(), state))),
      state_(std::move(state)) {}

FaultEnv::~FaultEnv() = default;

uint64_t FaultEnv::wal_syncs() const { return state_->wal_syncs.load(); }
void FaultEnv::FailNextWalSync(SyncFailure what) {
  state_->sync_failure.store(what);
  state_->fail_next_wal_sync.store(true);
}
void FaultEnv::SetWriteFault(WriteFault fault) { state_->write_fault.store(fault); }
void FaultEnv::Heal() {
  state_->fail_next_wal_sync.store(false);
  state_->write_fault.store(WriteFault::kNone);
}
uint64_t FaultEnv::injected_faults() const { return state_->injected.load(); }

}  // namespace meridian::store
