// What every benchmark in bench/ measures with: an operation run for a while, several times, as
// its median rate per second of wall time and per second of the thread's CPU time (the second
// is steadier on a shared machine).
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace meridian::bench {

inline double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Rate {
  double per_wall_second, per_cpu_second;
};

// Runs `op` repeatedly for `seconds` (at least once), `reps` times; the median rates.
inline Rate Measure(double seconds, int reps, const std::function<void()>& op) {
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = ThreadCpuSeconds();
    long n = 0;
    double elapsed = 0;
    do {
      op();
      ++n;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    wall.push_back(static_cast<double>(n) / elapsed);
    cpu.push_back(static_cast<double>(n) / (ThreadCpuSeconds() - cpu_start));
  }
  return {Median(wall), Median(cpu)};
}

}  // namespace meridian::bench
