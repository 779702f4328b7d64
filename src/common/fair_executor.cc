#include "common/fair_executor.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <sched.h>

namespace meridian {

FairExecutor::FairExecutor(FairExecutorOptions options) : options_(std::move(options)) {}

FairExecutor::~FairExecutor() { Stop(StopMode::kDrop); }

Result<std::unique_ptr<FairExecutor>> FairExecutor::Start(FairExecutorOptions options) {
  if (options.threads < 0) return InvalidArgument("FairExecutor: threads must be >= 0");
  if (options.max_queued_per_key == 0 || options.max_queued_total == 0) {
    return InvalidArgument("FairExecutor: queue caps must be > 0");
  }
  if (options.threads == 0) {
    options.threads = std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
  }
  if (options.max_running_per_key == 0) {
    options.max_running_per_key = std::max<size_t>(1, static_cast<size_t>(options.threads) / 2);
  }
  std::unique_ptr<FairExecutor> ex(new FairExecutor(std::move(options)));
  try {
    for (int i = 0; i < ex->options_.threads; ++i) {
      ex->workers_.emplace_back([raw = ex.get()] { raw->Work(); });
    }
  } catch (const std::exception& e) {
    return Internal(std::string("FairExecutor: cannot start a worker: ") + e.what());
  }  // `ex` stops and joins the workers already started
  return ex;
}

void FairExecutor::MakeReadyLocked(Entry* e) {
  KeyState& k = e->second;
  if (!k.in_ready && !k.queue.empty() && k.running < options_.max_running_per_key) {
    ready_.push_back(e);
    k.in_ready = true;
    cv_.notify_one();
  }
}

Status FairExecutor::Submit(std::string_view key, std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    ++refused_total_;
    return Status(Code::kUnavailable, "the executor is stopping");
  }
  auto it = keys_.find(std::string(key));
  if (it != keys_.end() && it->second.queue.size() >= options_.max_queued_per_key) {
    ++refused_key_;
    return Status(Code::kResourceExhausted, "too many requests queued for this key");
  }
  if (queued_ >= options_.max_queued_total) {
    ++refused_total_;
    return Status(Code::kUnavailable, "too many requests queued");
  }
  if (it == keys_.end()) it = keys_.try_emplace(std::string(key)).first;
  it->second.queue.push_back(std::move(fn));
  ++queued_;
  MakeReadyLocked(&*it);
  return Status::Ok();
}

void FairExecutor::Work() {
  if (options_.background) {
    // Per thread; lowering a thread's priority needs no privilege. Should it fail, the worker
    // runs at normal priority, which is correct, only less kind to its neighbours.
    sched_param param{};
    (void)sched_setscheduler(0, SCHED_IDLE, &param);
  }
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return !ready_.empty() || (stopping_ && queued_ == 0); });
    if (ready_.empty()) break;  // stopping, and nothing is left to run
    Entry* e = ready_.front();
    ready_.pop_front();
    KeyState& k = e->second;
    k.in_ready = false;
    std::function<void()> fn = std::move(k.queue.front());
    k.queue.pop_front();
    --queued_;
    ++k.running;
    ++running_;
    // Back in line behind the other keys, if it may run another job.
    MakeReadyLocked(e);

    lock.unlock();
    try {
      fn();
    } catch (const std::exception& ex) {
      if (options_.on_exception) {
        options_.on_exception(ex.what());
      } else {
        std::fprintf(stderr, "FairExecutor: exception escaped a job: %s\n", ex.what());
      }
    } catch (...) {
      if (options_.on_exception) {
        options_.on_exception("(not a std::exception)");
      } else {
        std::fprintf(stderr, "FairExecutor: exception escaped a job\n");
      }
    }
    fn = nullptr;  // whatever the job owns is released without the lock held
    lock.lock();

    --k.running;
    --running_;
    if (k.queue.empty() && k.running == 0) {
      keys_.erase(e->first);
    } else {
      MakeReadyLocked(e);
    }
    if (stopping_ && queued_ == 0) cv_.notify_all();
  }
}

void FairExecutor::Stop(StopMode mode) {
  for (const auto& t : workers_) {
    if (t.get_id() == std::this_thread::get_id()) {
      std::fprintf(stderr, "FairExecutor::Stop called from a job\n");
      std::abort();
    }
  }
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (mode == StopMode::kDrop) {
      for (auto& [key, k] : keys_) {
        for (auto& fn : k.queue) dropped.push_back(std::move(fn));
        k.queue.clear();
      }
      for (auto it = keys_.begin(); it != keys_.end();) {
        it = it->second.running == 0 ? keys_.erase(it) : std::next(it);
      }
      ready_.clear();
      for (auto& [key, k] : keys_) k.in_ready = false;
      queued_ = 0;
    }
    cv_.notify_all();
  }
  dropped.clear();
  for (auto& t : workers_) t.join();
  stopped_ = true;
}

FairExecutor::Stats FairExecutor::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{queued_, running_, keys_.size(), refused_key_, refused_total_};
}

}  // namespace meridian
