#include "common/fair_executor.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"

namespace meridian {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<FairExecutor> StartOrDie(FairExecutorOptions options) {
  auto ex = FairExecutor::Start(std::move(options));
  EXPECT_TRUE(ex.ok()) << ex.status().ToString();
  return ex.ok() ? std::move(ex).value() : nullptr;
}

// Polls `done` until it holds, for at most 10 s.
template <typename Pred>
bool WaitFor(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A job that blocks its worker until Open(), and tells when it has started.
class Gate {
 public:
  std::function<void()> Job() {
    return [this] {
      started_.set_value();
      opened_.wait();
    };
  }
  // Waits (bounded) until the job runs; false when it did not start in time.
  bool WaitStarted() { return started_future_.wait_for(10s) == std::future_status::ready; }
  void Open() { open_.set_value(); }

 private:
  std::promise<void> started_;
  std::future<void> started_future_ = started_.get_future();
  std::promise<void> open_;
  std::shared_future<void> opened_ = open_.get_future().share();
};

TEST(FairExecutorTest, StartRejectsZeroCaps) {
  FairExecutorOptions o;
  o.max_queued_per_key = 0;
  EXPECT_EQ(FairExecutor::Start(o).status().code(), Code::kInvalidArgument);
  o = {};
  o.max_queued_total = 0;
  EXPECT_EQ(FairExecutor::Start(o).status().code(), Code::kInvalidArgument);
  o = {};
  o.threads = -1;
  EXPECT_EQ(FairExecutor::Start(o).status().code(), Code::kInvalidArgument);
  o = {};
  o.threads = 6;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->threads(), 6);
  EXPECT_EQ(ex->max_running_per_key(), 3u);  // half the workers by default
}

// The fairness guarantee: a key with 1,000 queued jobs does not put another key's single job
// behind them, and two busy keys take turns. With one worker, the lone job runs within the
// first round (one job of each busy key at most before it); a plain FIFO would run it last,
// and a scheduler that kept serving one key would starve the other busy key.
TEST(FairExecutorTest, SingleJobIsNotQueuedBehindABusyKey) {
  // With a cap of 1 a key is put back in line when its job ends; with 2, when one starts.
  for (size_t cap : {1, 2}) {
    SCOPED_TRACE("max_running_per_key " + std::to_string(cap));
    FairExecutorOptions o;
    o.threads = 1;
    o.max_running_per_key = cap;
    o.max_queued_per_key = 2000;
    o.max_queued_total = 3000;
    auto ex = StartOrDie(o);
    ASSERT_TRUE(ex);
    Gate gate;  // holds the only worker while the queues fill
    ASSERT_TRUE(ex->Submit("gate", gate.Job()).ok());
    ASSERT_TRUE(gate.WaitStarted());

    std::mutex mu;
    std::vector<std::string> order;
    auto record = [&](std::string key) {
      return [&, key] {
        std::lock_guard<std::mutex> l(mu);
        order.push_back(key);
      };
    };
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(ex->Submit("busy1", record("busy1")).ok());
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(ex->Submit("busy2", record("busy2")).ok());
    ASSERT_TRUE(ex->Submit("lone", record("lone")).ok());
    gate.Open();
    ex->Stop(FairExecutor::StopMode::kDrain);
    ASSERT_EQ(order.size(), 2001u);
    size_t pos = std::find(order.begin(), order.end(), "lone") - order.begin();
    EXPECT_LE(pos, 2u) << "the lone job ran after " << pos << " jobs of the busy keys";
    // The busy keys alternate: any 100 consecutive jobs hold about 50 of each.
    int busy1 = static_cast<int>(std::count(order.begin(), order.begin() + 100, "busy1"));
    EXPECT_GE(busy1, 48);
    EXPECT_LE(busy1, 52);
  }
}

// One key never holds every worker: with a per-key cap of 1, a second worker stays free for
// another key while the first key's job blocks, and the first key's next job waits its turn.
TEST(FairExecutorTest, PerKeyRunningCapLeavesWorkersForOtherKeys) {
  FairExecutorOptions o;
  o.threads = 2;
  o.max_running_per_key = 1;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  Gate gate;
  std::atomic<int> a_started{0};
  // Both jobs of key "a" block on the gate; without the cap the second would take the second
  // worker and "b" would wait for the gate.
  auto blocked = gate.Job();
  ASSERT_TRUE(ex->Submit("a", [&, blocked] {
                  ++a_started;
                  blocked();
                }).ok());
  ASSERT_TRUE(gate.WaitStarted());
  ASSERT_TRUE(ex->Submit("a", [&] { ++a_started; }).ok());
  std::promise<void> b_ran;
  ASSERT_TRUE(ex->Submit("b", [&] { b_ran.set_value(); }).ok());
  EXPECT_EQ(b_ran.get_future().wait_for(10s), std::future_status::ready);
  EXPECT_EQ(a_started.load(), 1);  // a's second job waits for its first
  // b's worker counts its job as running until it has returned from it.
  EXPECT_TRUE(WaitFor([&] { return ex->stats().running == 1; }));
  EXPECT_EQ(ex->stats().queued, 1u);
  gate.Open();
  ex->Stop(FairExecutor::StopMode::kDrain);
  EXPECT_EQ(a_started.load(), 2);
}

TEST(FairExecutorTest, QueueCapsRefuseAtOnce) {
  FairExecutorOptions o;
  o.threads = 1;
  o.max_running_per_key = 1;
  o.max_queued_per_key = 2;
  o.max_queued_total = 3;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  Gate gate;  // running, so it counts against no queue
  ASSERT_TRUE(ex->Submit("g", gate.Job()).ok());
  ASSERT_TRUE(gate.WaitStarted());

  std::atomic<int> ran{0};
  auto job = [&] { ++ran; };
  EXPECT_TRUE(ex->Submit("a", job).ok());
  EXPECT_TRUE(ex->Submit("a", job).ok());
  // The refused job is destroyed before Submit returns: nothing it owns lingers.
  auto owned = std::make_shared<int>(0);
  Status s = ex->Submit("a", [owned] {});
  EXPECT_EQ(s.code(), Code::kResourceExhausted) << s.ToString();
  EXPECT_EQ(owned.use_count(), 1);
  EXPECT_TRUE(ex->Submit("b", job).ok());  // "b" is under its cap; the total is now 3
  s = ex->Submit("c", job);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  s = ex->Submit("g", job);
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  auto stats = ex->stats();
  EXPECT_EQ(stats.queued, 3u);
  EXPECT_EQ(stats.refused_key, 1u);
  EXPECT_EQ(stats.refused_total, 2u);

  gate.Open();
  ex->Stop(FairExecutor::StopMode::kDrain);
  EXPECT_EQ(ran.load(), 3);
  EXPECT_EQ(ex->stats().keys, 0u);  // keys are forgotten once idle
}

TEST(FairExecutorTest, StopDropDestroysQueuedJobsAndJoinsRunningOnes) {
  FairExecutorOptions o;
  o.threads = 1;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  Gate gate;
  std::atomic<bool> gate_finished{false};
  auto blocked = gate.Job();
  ASSERT_TRUE(ex->Submit("g", [&, blocked] {
                  blocked();
                  std::this_thread::sleep_for(50ms);  // Stop must wait for this too
                  gate_finished = true;
                }).ok());
  ASSERT_TRUE(gate.WaitStarted());
  std::atomic<int> ran{0};
  auto owned = std::make_shared<int>(0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(ex->Submit("k", [&ran, owned] { ++ran; }).ok());

  std::thread stopper([&] { ex->Stop(FairExecutor::StopMode::kDrop); });
  // Once Submit is refused, Stop has taken (and dropped) the queue; only then let the worker go.
  EXPECT_TRUE(WaitFor([&] { return !ex->Submit("x", [] {}).ok(); }));
  gate.Open();
  stopper.join();
  EXPECT_TRUE(gate_finished.load());  // Stop returned only after the running job finished
  EXPECT_EQ(ran.load(), 0);
  EXPECT_EQ(owned.use_count(), 1);  // the dropped jobs were destroyed
  EXPECT_EQ(ex->Submit("k", [] {}).code(), Code::kUnavailable);
  ex->Stop(FairExecutor::StopMode::kDrop);  // idempotent
}

TEST(FairExecutorTest, StopDrainRunsEveryQueuedJob) {
  FairExecutorOptions o;
  o.threads = 2;
  o.max_running_per_key = 1;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(ex->Submit(i % 2 ? "odd" : "even", [&] { ++ran; }).ok());
  }
  ex->Stop(FairExecutor::StopMode::kDrain);
  EXPECT_EQ(ran.load(), 100);
}

TEST(FairExecutorTest, ExceptionInAJobIsReportedAndTheWorkerSurvives) {
  std::mutex mu;
  std::vector<std::string> reported;
  FairExecutorOptions o;
  o.threads = 1;
  o.on_exception = [&](std::string_view what) {
    std::lock_guard<std::mutex> l(mu);
    reported.emplace_back(what);
  };
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);
  ASSERT_TRUE(ex->Submit("k", [] { throw std::runtime_error("job bug"); }).ok());
  std::promise<void> after;
  ASSERT_TRUE(ex->Submit("k", [&] { after.set_value(); }).ok());
  EXPECT_EQ(after.get_future().wait_for(10s), std::future_status::ready);
  ex->Stop(FairExecutor::StopMode::kDrain);
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0], "job bug");
}

TEST(FairExecutorDeathTest, StopFromAJobAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        FairExecutorOptions o;
        o.threads = 1;
        auto ex = FairExecutor::Start(o);
        FairExecutor* raw = ex->get();
        (void)raw->Submit("k", [raw] { raw->Stop(FairExecutor::StopMode::kDrop); });
        std::this_thread::sleep_for(10s);
      },
      "Stop called from a job");
}

// Many keys submitted in a seeded random order from several threads: every job runs exactly
// once, jobs of a key run in submission order, and no key ever runs more than its cap.
TEST(FairExecutorTest, RandomLoadKeepsOrderAndCaps) {
  constexpr uint64_t kSeed = 20260214;
  std::cout << "seed " << kSeed << std::endl;
  constexpr int kKeys = 7, kSubmitters = 3, kEach = 700;
  FairExecutorOptions o;
  o.threads = 4;
  o.max_running_per_key = 1;  // so that start order is observable inside the jobs
  o.max_queued_per_key = kSubmitters * kEach;
  o.max_queued_total = kSubmitters * kEach;
  auto ex = StartOrDie(o);
  ASSERT_TRUE(ex);

  std::mutex mu;
  std::map<std::string, std::vector<int>> started;  // key -> sequence numbers in start order
  std::array<std::atomic<int>, kKeys * kSubmitters> running{};
  std::atomic<int> over_cap{0};
  std::vector<std::thread> submitters;
  std::vector<std::map<std::string, std::vector<int>>> submitted(kSubmitters);
  for (int t = 0; t < kSubmitters; ++t) {
    submitters.emplace_back([&, t] {
      auto random = NewSeededRandom(kSeed + t);
      for (int i = 0; i < kEach; ++i) {
        int k = static_cast<unsigned char>(random->Bytes(1)[0]) % kKeys;
        // Each submitter has its own keys so that per-key submission order is well defined.
        std::string key = std::to_string(t) + "/" + std::to_string(k);
        submitted[t][key].push_back(i);
        int slot = t * kKeys + k;
        Status s = ex->Submit(key, [&, key, slot, i] {
          if (++running[slot] > 1) ++over_cap;
          {
            std::lock_guard<std::mutex> l(mu);
            started[key].push_back(i);
          }
          std::this_thread::yield();
          --running[slot];
        });
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    });
  }
  for (auto& t : submitters) t.join();
  ex->Stop(FairExecutor::StopMode::kDrain);
  EXPECT_EQ(over_cap.load(), 0);
  size_t total = 0;
  for (int t = 0; t < kSubmitters; ++t) {
    for (const auto& [key, seqs] : submitted[t]) {
      EXPECT_EQ(started[key], seqs) << "key " << key;
      total += seqs.size();
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kSubmitters * kEach));
}

}  // namespace
}  // namespace meridian
