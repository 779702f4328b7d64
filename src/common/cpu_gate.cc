#include "common/cpu_gate.h"

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace meridian {

int CpuGate::DefaultSlots() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1);
}

CpuGate::CpuGate(CpuGateOptions options) {
  FairExecutorOptions e;
  e.threads = options.slots > 0 ? options.slots : DefaultSlots();
  e.max_running_per_key = 1;
  e.max_queued_per_key = options.max_waiting_per_key;
  e.max_queued_total = options.max_waiting_total;
  e.background = true;
  auto executor = FairExecutor::Start(std::move(e));
  if (!executor.ok()) {
    std::fprintf(stderr, "CpuGate: %s\n", executor.status().ToString().c_str());
    std::abort();
  }
  executor_ = std::move(executor).value();
}

CpuGate::~CpuGate() { executor_->Stop(FairExecutor::StopMode::kDrain); }

Status CpuGate::Run(std::string_view key, const std::function<void()>& fn) {
  struct Wait {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  auto wait = std::make_shared<Wait>();
  // Wakes the caller however the job ends: run, thrown out of, or destroyed unrun.
  struct Finish {
    explicit Finish(std::shared_ptr<Wait> w) : wait(std::move(w)) {}
    Finish(const Finish&) = delete;
    std::shared_ptr<Wait> wait;
    ~Finish() {
      std::lock_guard<std::mutex> l(wait->mu);
      wait->done = true;
      wait->cv.notify_one();
    }
  };
  auto finish = std::make_shared<Finish>(wait);
  Status submitted = executor_->Submit(key, [finish = std::move(finish), &fn] {
    fn();  // `fn` outlives the job: the caller waits below until the job is gone
  });
  if (!submitted.ok()) {
    return submitted.code() == Code::kResourceExhausted
               ? Status(Code::kResourceExhausted,
                        "Too many CPU-heavy requests of this tenant are waiting; retry shortly.",
                        "TooManyRequests")
               : Status(Code::kUnavailable, "The server is busy; retry shortly.",
                        "ServiceUnavailable");
  }
  std::unique_lock<std::mutex> l(wait->mu);
  wait->cv.wait(l, [&] { return wait->done; });
  return Status::Ok();
}

}  // namespace meridian
