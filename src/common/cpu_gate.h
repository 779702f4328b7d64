// CpuGate: where CPU-heavy work (password hashing: ~100 ms of one core each) runs. It has
// cores-1 threads of its own (at least one) under SCHED_IDLE, fair across keys (tenants) and one
// job per key at a time: a tenant creating users as fast as it can takes at most one core, at
// least one core stays free, and an interactive request preempts a hash at once, so the
// neighbours' requests keep their latency. When interactive work saturates every core, hashes
// slow to a trickle rather than slow everything.
//
// Thread-safe. Run() blocks its caller until its job has run; the wait is bounded because the
// queues are: past a cap, Run() refuses at once instead of queueing.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "common/fair_executor.h"
#include "common/status.h"

namespace meridian {

struct CpuGateOptions {
  // Jobs that may run at once; 0 means one less than the hardware threads, at least 1.
  int slots = 0;
  // Jobs of one key waiting; one more is refused with kResourceExhausted (429).
  size_t max_waiting_per_key = 8;
  // Jobs of all keys waiting; one more is refused with kUnavailable (503).
  size_t max_waiting_total = 128;
};

class CpuGate {
 public:
  // Aborts when its threads cannot start (a process without threads cannot serve anyway).
  explicit CpuGate(CpuGateOptions options = {});
  ~CpuGate();
  CpuGate(const CpuGate&) = delete;
  CpuGate& operator=(const CpuGate&) = delete;

  // Runs `fn` on one of the gate's threads and returns once it has run. The keys with waiting
  // jobs take turns, so a key with many jobs delays another key's single job by about one job.
  // kResourceExhausted or kUnavailable, without running `fn`, when a queue is full.
  Status Run(std::string_view key, const std::function<void()>& fn);

  int slots() const { return executor_->threads(); }
  // The slots of a gate whose options leave `slots` at 0.
  static int DefaultSlots();

 private:
  std::unique_ptr<FairExecutor> executor_;
};

}  // namespace meridian
