// Loop: where a node's replication logic runs. Every Replica and Controller method runs on its
// node's loop, one task at a time, so their state needs no locks; whatever arrives from another
// thread (a transport's reply, a proposal from a request worker) is posted onto it.
//
// The server's loop is a thread with a timer queue (replication/thread_loop.h); the simulation's
// is virtual time under a seeded scheduler (replication/sim/), which is what makes a failing
// schedule replay exactly.
#pragma once

#include <cstdint>
#include <functional>

namespace meridian::replication {

class Loop {
 public:
  virtual ~Loop() = default;
  // Milliseconds on the loop's clock (virtual in the simulation).
  virtual int64_t NowMillis() const = 0;
  // Runs `task` on the loop soon. Thread-safe.
  virtual void Post(std::function<void()> task) = 0;
  // Runs `task` on the loop once `delay_ms` have passed. Thread-safe.
  virtual void PostAfter(int64_t delay_ms, std::function<void()> task) = 0;
  // Runs `work` where it may block (an fsync), then `then` on the loop. Thread-safe.
  virtual void Offload(std::function<void()> work, std::function<void()> then) = 0;
};

}  // namespace meridian::replication
