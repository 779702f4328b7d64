// FaultEnv: a rocksdb::Env for tests that injects storage faults into a Partition (or any RocksDB
// database) opened with it: a failed fsync of the write-ahead log, failed writes (EIO) and a full
// disk (ENOSPC). It also counts WAL syncs, so a test can prove that an acknowledged write was
// synced. Test-only: linked into test binaries (meridian_store_testing), never into a server.
#pragma once

#include <rocksdb/env.h>

#include <cstdint>
#include <memory>

namespace meridian::store {

// What an append does while a write fault is set.
enum class WriteFault {
  kNone,     // appends go through
  kIoError,  // appends fail with IOStatus::IOError (EIO) and write nothing
  kNoSpace,  // appends fail with IOStatus::NoSpace (ENOSPC, disk full) and write nothing
};

// What a failed WAL sync does to the bytes it did not get to disk.
enum class SyncFailure {
  kDropUnsynced,  // they are gone: the file is truncated back to its last synced length
  kKeepUnsynced,  // they reached the disk anyway; only the report of success was lost
};

// Forwards everything to the default (POSIX) Env, through a FileSystem that watches every file
// opened for writing. RocksDB reaches files through Env::GetFileSystem(), so faults are injected
// there; threads and the clock are the default Env's.
//
// Faults:
//   - FailNextWalSync(): the next Sync or Fsync of a WAL file (name ending in ".log") fails with
//     an I/O error. By default the bytes appended to that file since its last successful sync
//     are discarded (the file is truncated back to its synced length), as when the kernel drops
//     the dirty pages of a failed writeback; SyncFailure::kKeepUnsynced leaves them in place,
//     the other outcome a caller of a failed fsync cannot rule out. Either way the file is then
//     poisoned: later appends and syncs of it fail.
//   - SetWriteFault(): every append to any file opened for writing (WAL, MANIFEST, SST) fails
//     without writing a byte until the fault is cleared.
//
// Thread-safe: RocksDB calls it from its writer and background threads while a test sets faults
// from its own. Must outlive every database opened with it.
class FaultEnv final : public rocksdb::EnvWrapper {
 public:
  FaultEnv();
  ~FaultEnv() override;
  FaultEnv(const FaultEnv&) = delete;
  FaultEnv& operator=(const FaultEnv&) = delete;

  const char* Name() const override { return "MeridianFaultEnv"; }

  // Successful Sync/Fsync calls on WAL files since construction.
  uint64_t wal_syncs() const;

  // Arms a one-shot failure of the next WAL sync (see the class comment).
  void FailNextWalSync(SyncFailure what = SyncFailure::kDropUnsynced);

  // Sets what appends do from now on; WriteFault::kNone lets them through again.
  void SetWriteFault(WriteFault fault);

  // Disarms a pending sync failure and clears the write fault. Files already poisoned by a failed
  // sync stay poisoned: reopen the database to get new ones.
  void Heal();

  // How many file operations have failed because of an injected fault. A test asserts that it
  // grew, so that it proves the fault was hit rather than passing for another reason.
  uint64_t injected_faults() const;

  struct State;  // shared with the file wrappers; defined in fault_env.cc

 private:
  explicit FaultEnv(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace meridian::store
