// Clock: the one source of time. Token lifetimes, audit times and createdDateTime all read an
// injected Clock so that tests can move time instead of sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace meridian {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch. Thread-safe.
  virtual int64_t NowMillis() const = 0;
  int64_t NowSeconds() const { return NowMillis() / 1000; }
};

// The real wall clock.
class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  static SystemClock* Default();
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(); }
  void Advance(int64_t millis) { now_ += millis; }
  void Set(int64_t millis) { now_ = millis; }

 private:
  std::atomic<int64_t> now_;
};

// Formats as ISO 8601 UTC with a 'Z' suffix, as Graph does: 2024-01-02T03:04:05Z.
std::string FormatIso8601(int64_t millis);

}  // namespace meridian
