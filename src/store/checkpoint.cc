#include "store/checkpoint.h"

#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <algorithm>

namespace meridian::store {
namespace {

using rocksdb::FileOptions;
using rocksdb::IOOptions;
using rocksdb::IOStatus;

Status FromIo(const IOStatus& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  return Internal(std::string(what) + ": " + s.ToString());
}

rocksdb::FileSystem* Fs(rocksdb::Env* env) { return env->GetFileSystem().get(); }

bool PlainName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

std::string Join(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

Result<std::vector<std::string>> Children(rocksdb::Env* env, const std::string& dir) {
  return layout::ListDir(env, dir);
}

bool IsDir(rocksdb::Env* env, const std::string& path) {
  bool is_dir = false;
  return Fs(env)->IsDirectory(path, IOOptions(), &is_dir, nullptr).ok() && is_dir;
}

// Removes `dir` and the files in it (a database or checkpoint directory has no subdirectories).
Status RemoveFlatDir(rocksdb::Env* env, const std::string& dir) {
  MERIDIAN_ASSIGN_OR_RETURN(auto names, Children(env, dir));
  for (const std::string& n : names) {
    MERIDIAN_RETURN_IF_ERROR(
        FromIo(Fs(env)->DeleteFile(Join(dir, n), IOOptions(), nullptr), "remove " + n));
  }
  return FromIo(Fs(env)->DeleteDir(dir, IOOptions(), nullptr), "remove " + dir);
}

}  // namespace

// ------------------------------------------------------------------ Checkpoint

Checkpoint::Checkpoint(rocksdb::Env* env, std::string dir, uint64_t lsn, uint64_t epoch,
                       std::vector<std::string> files)
    : env_(env), dir_(std::move(dir)), lsn_(lsn), epoch_(epoch), files_(std::move(files)) {}

Checkpoint::~Checkpoint() { RemoveFlatDir(env_, dir_).IgnoreError(); }

Status Checkpoint::Read(const std::string& file, uint64_t offset, size_t max_bytes,
                        std::string* out) const {
  if (std::find(files_.begin(), files_.end(), file) == files_.end()) {
    return InvalidArgument("checkpoint has no file " + file);
  }
  std::unique_ptr<rocksdb::FSRandomAccessFile> f;
  MERIDIAN_RETURN_IF_ERROR(FromIo(
      Fs(env_)->NewRandomAccessFile(Join(dir_, file), FileOptions(), &f, nullptr), "open " + file));
  out->resize(max_bytes);
  rocksdb::Slice got;
  MERIDIAN_RETURN_IF_ERROR(
      FromIo(f->Read(offset, max_bytes, IOOptions(), &got, out->data(), nullptr), "read " + file));
  // The result may point at `out` or elsewhere (an mmap): copy it down either way.
  std::string data(got.data(), got.size());
  *out = std::move(data);
  return Status::Ok();
}

// ------------------------------------------------------------------ CheckpointStaging

CheckpointStaging::CheckpointStaging(rocksdb::Env* env, std::string dir)
    : env_(env), dir_(std::move(dir)) {}

CheckpointStaging::~CheckpointStaging() {
  if (open_) open_->Close(IOOptions(), nullptr).PermitUncheckedError();
  if (!released_) RemoveFlatDir(env_, dir_).IgnoreError();
}

Status CheckpointStaging::Add(std::string_view file, std::string_view data, bool end_of_file) {
  if (!PlainName(file)) return InvalidArgument("checkpoint file name is not a plain name");
  std::string name(file);
  if (open_ && name != open_name_) {
    return InvalidArgument("checkpoint file " + name + " began before " + open_name_ + " ended");
  }
  if (!open_) {
    if (std::find(closed_.begin(), closed_.end(), name) != closed_.end()) {
      return InvalidArgument("checkpoint file " + name + " sent twice");
    }
    MERIDIAN_RETURN_IF_ERROR(FromIo(
        Fs(env_)->NewWritableFile(Join(dir_, name), FileOptions(), &open_, nullptr),
        "create " + name));
    open_name_ = name;
  }
  MERIDIAN_RETURN_IF_ERROR(FromIo(
      open_->Append(rocksdb::Slice(data.data(), data.size()), IOOptions(), nullptr),
      "write " + name));
  if (end_of_file) {
    MERIDIAN_RETURN_IF_ERROR(FromIo(open_->Fsync(IOOptions(), nullptr), "fsync " + name));
    MERIDIAN_RETURN_IF_ERROR(FromIo(open_->Close(IOOptions(), nullptr), "close " + name));
    open_.reset();
    closed_.push_back(std::move(name));
  }
  return Status::Ok();
}

Status CheckpointStaging::Finish() {
  if (open_) return InvalidArgument("checkpoint file " + open_name_ + " did not end");
  return layout::SyncDir(env_, dir_);
}

// ------------------------------------------------------------------ layout

namespace layout {
namespace {
constexpr char kActiveTemp[] = "ACTIVE.tmp";
}  // namespace

Result<std::vector<std::string>> ListDir(rocksdb::Env* env, const std::string& dir) {
  std::vector<std::string> names;
  MERIDIAN_RETURN_IF_ERROR(
      FromIo(Fs(env)->GetChildren(dir, IOOptions(), &names, nullptr), "list " + dir));
  names.erase(std::remove_if(names.begin(), names.end(),
                             [](const std::string& n) { return n == "." || n == ".."; }),
              names.end());
  std::sort(names.begin(), names.end());
  return names;
}

Status SyncDir(rocksdb::Env* env, const std::string& dir) {
  std::unique_ptr<rocksdb::FSDirectory> d;
  MERIDIAN_RETURN_IF_ERROR(
      FromIo(Fs(env)->NewDirectory(dir, IOOptions(), &d, nullptr), "open directory " + dir));
  return FromIo(d->Fsync(IOOptions(), nullptr), "fsync directory " + dir);
}

Result<std::string> ActiveDir(rocksdb::Env* env, const std::string& path) {
  std::string pointer = Join(path, kActiveFile);
  IOStatus exists = Fs(env)->FileExists(pointer, IOOptions(), nullptr);
  if (exists.IsNotFound()) return path;  // the old layout, or a new partition
  MERIDIAN_RETURN_IF_ERROR(FromIo(exists, "look for " + pointer));
  std::string name;
  MERIDIAN_RETURN_IF_ERROR(FromIo(rocksdb::ReadFileToString(Fs(env), pointer, &name),
                                  "read " + pointer));
  if (!name.empty() && name.back() == '\n') name.pop_back();
  if (!PlainName(name) || name.rfind("data-", 0) != 0) {
    return Internal(pointer + " does not name a data directory");
  }
  return Join(path, name);
}

Status RemoveLeftovers(rocksdb::Env* env, const std::string& path, const std::string& active) {
  MERIDIAN_ASSIGN_OR_RETURN(auto names, Children(env, path));
  for (const std::string& n : names) {
    std::string full = Join(path, n);
    if (full == active) continue;
    if (n.rfind("checkpoint-", 0) == 0 || n.rfind("data-", 0) == 0) {
      if (IsDir(env, full)) MERIDIAN_RETURN_IF_ERROR(RemoveFlatDir(env, full));
    }
  }
  if (active != path) return RemoveDataDir(env, path, path);
  return Status::Ok();
}

Result<std::string> NewSubdir(rocksdb::Env* env, const std::string& path,
                              std::string_view prefix) {
  MERIDIAN_ASSIGN_OR_RETURN(auto names, Children(env, path));
  uint64_t next = 1;
  std::string lead = std::string(prefix) + "-";
  for (const std::string& n : names) {
    if (n.rfind(lead, 0) != 0) continue;
    uint64_t k = std::strtoull(n.c_str() + lead.size(), nullptr, 10);
    next = std::max(next, k + 1);
  }
  return lead + std::to_string(next);
}

Status SwitchActive(rocksdb::Env* env, const std::string& path, const std::string& subdir) {
  std::string temp = Join(path, kActiveTemp);
  {
    std::unique_ptr<rocksdb::FSWritableFile> f;
    MERIDIAN_RETURN_IF_ERROR(
        FromIo(Fs(env)->NewWritableFile(temp, FileOptions(), &f, nullptr), "create " + temp));
    MERIDIAN_RETURN_IF_ERROR(FromIo(f->Append(subdir + "\n", IOOptions(), nullptr), "write " + temp));
    MERIDIAN_RETURN_IF_ERROR(FromIo(f->Fsync(IOOptions(), nullptr), "fsync " + temp));
    MERIDIAN_RETURN_IF_ERROR(FromIo(f->Close(IOOptions(), nullptr), "close " + temp));
  }
  // rename(2) replaces ACTIVE atomically; the fsync of `path` makes the new name durable.
  MERIDIAN_RETURN_IF_ERROR(FromIo(
      Fs(env)->RenameFile(temp, Join(path, kActiveFile), IOOptions(), nullptr), "rename " + temp));
  return SyncDir(env, path);
}

Status RemoveDataDir(rocksdb::Env* env, const std::string& path, const std::string& dir) {
  if (dir != path) return RemoveFlatDir(env, dir);
  // The old layout: the database's files sit in `path` beside ACTIVE and the subdirectories.
  MERIDIAN_ASSIGN_OR_RETURN(auto names, Children(env, path));
  for (const std::string& n : names) {
    if (n == kActiveFile || n == kActiveTemp || IsDir(env, Join(path, n))) continue;
    MERIDIAN_RETURN_IF_ERROR(
        FromIo(Fs(env)->DeleteFile(Join(path, n), IOOptions(), nullptr), "remove " + n));
  }
  return Status::Ok();
}

}  // namespace layout
}  // namespace meridian::store
