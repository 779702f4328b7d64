#include "common/cpu_gate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace meridian {
namespace {

using namespace std::chrono_literals;

// A latch the test opens to let running work finish.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Wait() {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return open; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(CpuGate, NeverRunsMoreThanItsSlotsNorTwoOfOneKey) {
  CpuGate gate(CpuGateOptions{.slots = 2, .max_waiting_per_key = 100, .max_waiting_total = 100});
  std::atomic<int> running{0}, peak{0};
  std::atomic<int> peak_a{0}, running_a{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 24; ++i) {
    std::string key = i % 3 == 0 ? "a" : (i % 3 == 1 ? "b" : "c");
    threads.emplace_back([&, key] {
      ASSERT_TRUE(gate.Run(key,
                           [&] {
                             int n = ++running;
                             peak = std::max(peak.load(), n);
                             if (key == "a") {
                               int m = ++running_a;
                               peak_a = std::max(peak_a.load(), m);
                             }
                             std::this_thread::sleep_for(1ms);
                             if (key == "a") --running_a;
                             --running;
                           })
                      .ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 2);
  EXPECT_EQ(peak_a.load(), 1);
}

TEST(CpuGate, ALoneCallerIsNotQueuedBehindABusyKey) {
  CpuGate gate(CpuGateOptions{.slots = 1, .max_waiting_per_key = 100, .max_waiting_total = 100});
  Gate hold;
  std::vector<std::string> order;
  std::mutex order_mu;
  auto record = [&](std::string what) {
    std::lock_guard<std::mutex> l(order_mu);
    order.push_back(std::move(what));
  };
  std::thread first([&] { ASSERT_TRUE(gate.Run("busy", [&] { hold.Wait(); }).ok()); });
  std::this_thread::sleep_for(20ms);  // the first call holds the only slot
  std::vector<std::thread> busy;
  for (int i = 0; i < 5; ++i) {
    busy.emplace_back([&] { ASSERT_TRUE(gate.Run("busy", [&] { record("busy"); }).ok()); });
  }
  std::this_thread::sleep_for(20ms);
  std::thread lone([&] { ASSERT_TRUE(gate.Run("quiet", [&] { record("quiet"); }).ok()); });
  std::this_thread::sleep_for(20ms);
  hold.Open();
  first.join();
  lone.join();
  for (auto& t : busy) t.join();
  ASSERT_EQ(order.size(), 6u);
  // The quiet key runs after at most one more of the busy key's calls.
  size_t at = std::find(order.begin(), order.end(), "quiet") - order.begin();
  EXPECT_LE(at, 1u);
}

TEST(CpuGate, FullQueuesRefuseAtOnce) {
  CpuGate gate(CpuGateOptions{.slots = 1, .max_waiting_per_key = 1, .max_waiting_total = 2});
  Gate hold;
  std::thread running([&] { ASSERT_TRUE(gate.Run("a", [&] { hold.Wait(); }).ok()); });
  std::this_thread::sleep_for(20ms);
  std::thread waiting_a([&] { ASSERT_TRUE(gate.Run("a", [] {}).ok()); });
  std::this_thread::sleep_for(20ms);
  bool ran = false;
  Status per_key = gate.Run("a", [&] { ran = true; });
  EXPECT_EQ(per_key.code(), Code::kResourceExhausted);
  std::thread waiting_b([&] { ASSERT_TRUE(gate.Run("b", [] {}).ok()); });
  std::this_thread::sleep_for(20ms);
  Status total = gate.Run("c", [&] { ran = true; });
  EXPECT_EQ(total.code(), Code::kUnavailable);
  EXPECT_FALSE(ran);
  hold.Open();
  running.join();
  waiting_a.join();
  waiting_b.join();
}

}  // namespace
}  // namespace meridian
