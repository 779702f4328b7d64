#include "replication/thread_loop.h"

namespace meridian::replication {

ThreadLoop::ThreadLoop(Clock* clock) : clock_(clock) {
  thread_ = std::thread([this] { Run(); });
  blocking_thread_ = std::thread([this] { RunBlocking(); });
}

ThreadLoop::~ThreadLoop() { Stop(); }

void ThreadLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  blocking_cv_.notify_all();
  thread_.join();
  blocking_thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  ready_.clear();
  timers_.clear();
  blocking_.clear();
}

void ThreadLoop::Post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    ready_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadLoop::PostAfter(int64_t delay_ms, std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    timers_.emplace(clock_->NowMillis() + delay_ms, std::move(task));
  }
  cv_.notify_one();
}

void ThreadLoop::Offload(std::function<void()> work, std::function<void()> then) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    blocking_.emplace_back(std::move(work), std::move(then));
  }
  blocking_cv_.notify_one();
}

void ThreadLoop::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    int64_t now = clock_->NowMillis();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      ready_.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
    if (ready_.empty()) {
      if (timers_.empty()) {
        cv_.wait(lock);
      } else {
        cv_.wait_for(lock, std::chrono::milliseconds(timers_.begin()->first - now));
      }
      continue;
    }
    auto task = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

void ThreadLoop::RunBlocking() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (blocking_.empty()) {
      blocking_cv_.wait(lock);
      continue;
    }
    auto [work, then] = std::move(blocking_.front());
    blocking_.pop_front();
    lock.unlock();
    work();
    Post(std::move(then));
    lock.lock();
  }
}

}  // namespace meridian::replication
