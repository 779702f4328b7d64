// ThreadLoop: the server's Loop. One thread runs the tasks and timers of a node's replication
// logic in order; Offload runs blocking work (an fsync) on a second thread and posts its
// continuation back, so the loop never waits on a disk.
#pragma once

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/clock.h"
#include "replication/loop.h"

namespace meridian::replication {

class ThreadLoop final : public Loop {
 public:
  explicit ThreadLoop(Clock* clock = SystemClock::Default());
  ~ThreadLoop() override;  // Stop()

  // Stops both threads once the task running now has finished, and drops every task not yet
  // run; later posts are dropped too. What still holds the loop (a transport's callbacks) may
  // post until it is gone. Idempotent; not from a task of this loop.
  void Stop();

  int64_t NowMillis() const override { return clock_->NowMillis(); }
  void Post(std::function<void()> task) override;
  void PostAfter(int64_t delay_ms, std::function<void()> task) override;
  void Offload(std::function<void()> work, std::function<void()> then) override;

 private:
  void Run();
  void RunBlocking();

  Clock* const clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<int64_t, std::function<void()>> timers_;  // guarded by mu_
  std::deque<std::function<void()>> ready_;               // guarded by mu_
  std::condition_variable blocking_cv_;
  std::deque<std::pair<std::function<void()>, std::function<void()>>> blocking_;  // mu_
  bool stop_ = false;
  std::thread thread_;
  std::thread blocking_thread_;
};

}  // namespace meridian::replication
