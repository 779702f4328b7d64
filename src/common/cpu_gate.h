// CpuGate: bounds CPU-heavy work (password hashing: ~100 ms of one core each) so that it never
// occupies every core, and shares the slots fairly across keys (tenants). A tenant creating
// users as fast as it can then uses at most one slot, and at least one core stays free for
// everything else, so its neighbours' requests keep their latency.
//
// Thread-safe. Run() blocks its caller until a slot is free; the wait is bounded because the
// queues are: past a cap, Run() refuses at once instead of queueing.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian {

struct CpuGateOptions {
  // Work that may run at once; 0 means one less than the hardware threads, at least 1.
  int slots = 0;
  // Callers of one key waiting for a slot; one more is refused with kResourceExhausted (429).
  size_t max_waiting_per_key = 8;
  // Callers of all keys waiting; one more is refused with kUnavailable (503).
  size_t max_waiting_total = 128;
};

class CpuGate {
 public:
  explicit CpuGate(CpuGateOptions options = {});
  CpuGate(const CpuGate&) = delete;
  CpuGate& operator=(const CpuGate&) = delete;

  // Runs `fn` on the calling thread once a slot is free. One key runs one `fn` at a time; when
  // a slot frees, the keys with waiters take turns (round-robin), so a key with many waiters
  // delays another key's single caller by about one run. kResourceExhausted or kUnavailable,
  // without running `fn`, when a queue is full.
  Status Run(std::string_view key, const std::function<void()>& fn);

  int slots() const { return slots_; }

 private:
  struct Key {
    std::deque<uint64_t> waiting;  // tickets, oldest first
    bool running = false;
  };
  void GrantLocked();  // hands free slots to waiting keys in turn; requires mu_

  const CpuGateOptions options_;
  const int slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;
  uint64_t next_ticket_ = 0;
  size_t waiting_total_ = 0;
  std::map<std::string, Key, std::less<>> keys_;
  std::deque<std::string> turns_;  // keys with waiters, in the order they get a slot
  std::set<uint64_t> granted_;
};

}  // namespace meridian
