// FairExecutor: a fixed pool of worker threads that runs jobs fairly across keys (a tenant, a
// client address), with every queue bounded. The HTTPS server's request handlers run here, off
// the I/O threads, so that one slow request (a password hash, an fsync) delays neither other
// connections nor other tenants.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace meridian {

struct FairExecutorOptions {
  // Worker threads; 0 means two per hardware thread, at least 4 (jobs block on disk as well as
  // use the CPU).
  int threads = 0;
  // Jobs of one key that may run at once, so that one key never occupies every worker; 0 means
  // half the workers, at least 1.
  size_t max_running_per_key = 0;
  // Jobs of one key waiting to run; one more is refused with kResourceExhausted.
  size_t max_queued_per_key = 256;
  // Jobs of all keys waiting to run; one more is refused with kUnavailable.
  size_t max_queued_total = 4096;
  // Runs the workers under Linux's SCHED_IDLE policy: any other runnable thread preempts them
  // at once, and they keep a small share of the CPU when it is saturated. For work that may wait
  // (password hashes) so that it never delays interactive requests on a shared core.
  bool background = false;
  // Called (on the worker) with the what() of an exception that escaped a job, which is a bug in
  // the job; nullptr writes it to stderr. The executor keeps running either way.
  std::function<void(std::string_view)> on_exception;
};

// Runs submitted jobs on its workers. Each key has its own FIFO queue; the workers serve the
// keys that have work round-robin, one job per turn, so a key with a thousand queued jobs delays
// another key's single job by about one job, not a thousand. At most max_running_per_key jobs
// of one key run at once; the remaining workers stay free for other keys.
//
// Thread safety: every method may be called from any thread, concurrently, including from jobs
// (except Stop(), see there). Jobs of one key start in the order they were submitted; with
// max_running_per_key > 1 they may run concurrently and finish in any order. The executor owns
// its threads and the jobs it has not run yet.
class FairExecutor {
 public:
  enum class StopMode {
    kDrain,  // run every queued job, then stop
    kDrop,   // destroy the queued jobs without running them, then stop
  };

  struct Stats {
    size_t queued = 0;           // jobs waiting to run
    size_t running = 0;          // jobs running now
    size_t keys = 0;             // keys with a job queued or running
    uint64_t refused_key = 0;    // Submit() calls refused by max_queued_per_key
    uint64_t refused_total = 0;  // ... by max_queued_total or after Stop()
  };

  ~FairExecutor();  // Stop(StopMode::kDrop)
  FairExecutor(const FairExecutor&) = delete;
  FairExecutor& operator=(const FairExecutor&) = delete;

  // Starts the workers. Fails with kInvalidArgument when a cap is 0 or threads < 0, and
  // kInternal when a thread cannot be created.
  static Result<std::unique_ptr<FairExecutor>> Start(FairExecutorOptions options);

  // Queues `fn` to run on a worker as `key`'s next job. Never blocks on a full queue: fails at
  // once with kResourceExhausted when `key` has max_queued_per_key jobs waiting, and with
  // kUnavailable when all keys together have max_queued_total waiting or Stop() has begun. On
  // failure `fn` is destroyed without running, before Submit returns. A job that throws is
  // reported through on_exception and otherwise ignored.
  Status Submit(std::string_view key, std::function<void()> fn);

  // Stops taking jobs (Submit fails with kUnavailable from now on), runs or destroys the queued
  // jobs as `mode` says, waits for running jobs to finish and joins the workers. Destroyed jobs
  // are destroyed on the calling thread, without the executor's lock held. Idempotent; a later
  // call waits for the first. Must not be called from a job (that would wait for itself; it
  // aborts the process instead).
  void Stop(StopMode mode);

  Stats stats() const;
  int threads() const { return static_cast<int>(workers_.size()); }
  size_t max_running_per_key() const { return options_.max_running_per_key; }

 private:
  struct KeyState {
    std::deque<std::function<void()>> queue;
    size_t running = 0;
    bool in_ready = false;  // listed in ready_
  };
  using Entry = std::pair<const std::string, KeyState>;

  explicit FairExecutor(FairExecutorOptions options);
  void Work();
  // Lists `e` in ready_ when it has queued jobs and room to run one; mu_ held.
  void MakeReadyLocked(Entry* e);

  FairExecutorOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // ready_ gained a key, or stopping with nothing queued
  // Keys with a job queued or running. Node-based, so Entry pointers stay valid until erased.
  std::unordered_map<std::string, KeyState> keys_;
  std::deque<Entry*> ready_;  // keys with queued jobs and room to run one, in turn order
  size_t queued_ = 0;
  size_t running_ = 0;
  uint64_t refused_key_ = 0;
  uint64_t refused_total_ = 0;
  bool stopping_ = false;

  std::mutex stop_mu_;  // serializes Stop()
  bool stopped_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace meridian
