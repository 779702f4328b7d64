// Checkpoints of a partition, and the directory layout that lets an installed checkpoint replace a
// partition's data atomically.
//
// Directory layout of a partition at `path`:
//   - Old layout (every partition until its first install, and every embedded one): the RocksDB
//     database lives in `path` itself and there is no ACTIVE file.
//   - After an install: `path`/ACTIVE holds the name of the subdirectory that holds the database
//     ("data-<n>"), and only that subdirectory is live. ACTIVE is replaced by write-to-temp, fsync,
//     rename, fsync of `path`, so a crash leaves either the old name or the new one, each naming a
//     complete, synced database.
//   - Temporary: "checkpoint-<n>" (a checkpoint being streamed out; RocksDB hard links) and
//     "data-<n>" not named by ACTIVE (an install in progress, or an old database that readers still
//     hold). Open removes them; they are never live after a restart.
// RocksDB ignores names it did not make, so ACTIVE and the subdirectories can sit beside the old
// layout's files in `path`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace rocksdb {
class Env;
class FSWritableFile;
}  // namespace rocksdb

namespace meridian::store {

// A RocksDB checkpoint of a partition at one applied position: a directory of hard links (and
// copies of the write-ahead log) beside the partition's data, removed when this is destroyed.
// Made by Partition::OpenCheckpoint. Not thread-safe; the files never change, so several may
// be read at once by separate objects.
class Checkpoint {
 public:
  Checkpoint(rocksdb::Env* env, std::string dir, uint64_t lsn, uint64_t epoch,
             std::vector<std::string> files);
  ~Checkpoint();
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  // The applied position the checkpoint holds, and the epoch of the entry there.
  uint64_t lsn() const { return lsn_; }
  uint64_t epoch() const { return epoch_; }
  // The checkpoint's files: plain names, in a fixed order.
  const std::vector<std::string>& files() const { return files_; }

  // Replaces `out` with up to `max_bytes` of `file` from `offset` on; fewer (possibly none) at its
  // end. kInvalidArgument for a name not in files(); kInternal when the file cannot be read.
  Status Read(const std::string& file, uint64_t offset, size_t max_bytes, std::string* out) const;

 private:
  rocksdb::Env* const env_;
  const std::string dir_;
  const uint64_t lsn_, epoch_;
  const std::vector<std::string> files_;
};

// Receives the files of a checkpoint into a new data directory of a partition, to be installed
// with Partition::Install. Made by Partition::BeginInstall. The directory is removed when this is
// destroyed without having been installed. Not thread-safe.
class CheckpointStaging {
 public:
  CheckpointStaging(rocksdb::Env* env, std::string dir);
  ~CheckpointStaging();
  CheckpointStaging(const CheckpointStaging&) = delete;
  CheckpointStaging& operator=(const CheckpointStaging&) = delete;

  // Appends `data` to `file`, creating it on its first chunk; `end_of_file` fsyncs and closes
  // it. Files come one after the other: a chunk of another file while one is open, or of a file
  // already closed, is kInvalidArgument, as is a name that is not a plain file name (empty, ".",
  // "..", or containing '/'): it comes from the network. kInternal on an I/O failure.
  Status Add(std::string_view file, std::string_view data, bool end_of_file);

  // Ok once every file is closed and the directory itself is synced; kInvalidArgument while a
  // file is still open, kInternal on an I/O failure.
  Status Finish();

  const std::string& dir() const { return dir_; }
  // Keeps the directory: it is now a live database.
  void Release() { released_ = true; }

 private:
  rocksdb::Env* const env_;
  const std::string dir_;
  std::unique_ptr<rocksdb::FSWritableFile> open_;
  std::string open_name_;
  std::vector<std::string> closed_;
  bool released_ = false;
};

// The directory layout described at the top of this file. Every function names its failures in
// the Status; all file access goes through `env`.
namespace layout {

inline constexpr char kActiveFile[] = "ACTIVE";

// The directory the partition's database lives in: `path`/<ACTIVE's name>, or `path` itself
// when there is no ACTIVE file. kInternal when ACTIVE cannot be read or names something that is
// not a plain directory name.
Result<std::string> ActiveDir(rocksdb::Env* env, const std::string& path);

// Removes whatever no open database uses: every "checkpoint-*" and every "data-*" other than
// `active`, and, when `active` is not `path` itself, the old layout's files in `path`.
Status RemoveLeftovers(rocksdb::Env* env, const std::string& path, const std::string& active);

// A name "<prefix>-<n>" under `path` that no entry there has yet.
Result<std::string> NewSubdir(rocksdb::Env* env, const std::string& path, std::string_view prefix);

// Makes `path`/`subdir` the live database durably (see the top of this file).
Status SwitchActive(rocksdb::Env* env, const std::string& path, const std::string& subdir);

// Removes a database directory that is no longer live: `dir` with its files, or, when `dir` is
// `path` itself (the old layout), the database's files in it but not ACTIVE nor subdirectories.
Status RemoveDataDir(rocksdb::Env* env, const std::string& path, const std::string& dir);

// The names in directory `dir`, sorted, without "." and "..".
Result<std::vector<std::string>> ListDir(rocksdb::Env* env, const std::string& dir);

// Fsyncs directory `dir` (so that the names in it survive a crash).
Status SyncDir(rocksdb::Env* env, const std::string& dir);

}  // namespace layout
}  // namespace meridian::store
