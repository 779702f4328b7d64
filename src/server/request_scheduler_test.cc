#include "server/request_scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "http/metrics.h"

namespace meridian::server {
namespace {

using namespace std::chrono_literals;

// One request in flight: its storage and the future of its completion.
struct Call {
  http::Request req;
  http::Response res;
  std::promise<void> finished;
  std::future<void> done = finished.get_future();

  struct Exchange final : http::internal::Exchange {
    explicit Exchange(Call* c) : call(c) {}
    void Finish() override {
      if (!once.exchange(true)) call->finished.set_value();
    }
    Call* call;
    std::atomic<bool> once{false};
  };
  http::Done MakeDone() { return http::Done(std::make_shared<Exchange>(this)); }
};

class RequestSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FairExecutorOptions o;
    o.threads = 2;
    o.max_running_per_key = 1;
    o.max_queued_per_key = 1;
    o.max_queued_total = 3;
    ASSERT_TRUE(
        scheduler_
            .Start(
                &metrics_,
                [this](const http::Request& req, http::Response& res, std::function<void()> done) {
                  if (req.path.ends_with("/later")) {
                    // Finishes when the test says, from the test's thread.
                    std::lock_guard<std::mutex> l(mu_);
                    res.SetJson(201, "{}");
                    later_.push_back(std::move(done));
                    cv_.notify_all();
                    return;
                  }
                  if (req.path.ends_with("/slow")) {
                    std::unique_lock<std::mutex> l(mu_);
                    ++slow_started_;
                    cv_.notify_all();
                    cv_.wait(l, [&] { return open_; });
                  }
                  dispatched_thread_ = std::this_thread::get_id();
                  res.SetJson(200, "{}");
                  done();
                },
                [](const http::Request& req) -> std::string {
                  auto h = req.Header("authorization");
                  return h && *h == "Bearer good" ? "t1" : "";
                },
                o)
            .ok());
  }
  void TearDown() override {
    Open();
    scheduler_.Stop();
  }
  // Waits until `n` slow requests are running on workers.
  void WaitRunning(int n) {
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, 10s, [&] { return slow_started_ >= n; }));
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::unique_ptr<Call> Serve(std::string path, std::string token, std::string address) {
    auto c = std::make_unique<Call>();
    c->req.method = "GET";
    c->req.path = std::move(path);
    c->req.remote_address = std::move(address) + ":1234";
    if (!token.empty()) c->req.headers.emplace_back("Authorization", "Bearer " + token);
    c->res.request_id = "r";
    scheduler_.Serve(c->req, c->res, c->MakeDone());
    return c;
  }
  static bool Finished(Call& c, std::chrono::milliseconds within = 0ms) {
    return c.done.wait_for(within) == std::future_status::ready;
  }

  http::Metrics metrics_;
  RequestScheduler scheduler_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int slow_started_ = 0;
  std::thread::id dispatched_thread_;
  std::vector<std::function<void()>> later_;  // the `done` of each /later request
};

TEST_F(RequestSchedulerTest, ProbesAreAnsweredInlineAtOnce) {
  auto busy = Serve("/slow", "good", "10.0.0.1");
  auto probe = Serve("/healthz", "", "10.0.0.9");
  ASSERT_TRUE(Finished(*probe));
  EXPECT_EQ(probe->res.status, 200);
  EXPECT_EQ(dispatched_thread_, std::this_thread::get_id());
  Open();
  ASSERT_TRUE(Finished(*busy, 5s));  // before `busy` goes out of scope
}

TEST_F(RequestSchedulerTest, ATenantsFullQueueGets429AndAForgedTokenDoesNotSpendIt) {
  auto running = Serve("/v1.0/slow", "good", "10.0.0.1");
  WaitRunning(1);
  auto queued = Serve("/v1.0/slow", "good", "10.0.0.2");
  auto refused = Serve("/v1.0/users", "good", "10.0.0.3");
  ASSERT_TRUE(Finished(*refused, 1s));
  EXPECT_EQ(refused->res.status, 429);
  bool retry_after = false;
  for (const auto& [k, v] : refused->res.headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
  // A token that does not verify is scheduled by its address, not as tenant t1.
  auto forged = Serve("/v1.0/users", "forged", "10.0.0.4");
  EXPECT_FALSE(Finished(*forged, 50ms) && forged->res.status == 429);
  Open();
  for (Call* c : {running.get(), queued.get(), forged.get()}) {
    ASSERT_TRUE(Finished(*c, 5s));
    EXPECT_EQ(c->res.status, 200);
  }
}

TEST_F(RequestSchedulerTest, AllQueuesFullGets503) {
  std::vector<std::unique_ptr<Call>> calls;
  // Two workers busy, three queued, one address each: the total cap is reached.
  for (int i = 0; i < 5; ++i) {
    calls.push_back(Serve("/slow", "", "10.0.1." + std::to_string(i)));
    if (i == 1) WaitRunning(2);
  }
  auto refused = Serve("/slow", "", "10.0.2.1");
  ASSERT_TRUE(Finished(*refused, 1s));
  EXPECT_EQ(refused->res.status, 503);
  Open();
  for (auto& c : calls) ASSERT_TRUE(Finished(*c, 5s));
}

TEST_F(RequestSchedulerTest, ARequestThatFinishesLaterDoesNotHoldAWorker) {
  // Two workers; four requests that finish later, one after the other: each is dispatched while
  // those before it are unfinished, so none of them holds a worker.
  std::vector<std::unique_ptr<Call>> calls;
  for (size_t i = 0; i < 4; ++i) {
    calls.push_back(Serve("/later", "", "10.0.3." + std::to_string(i)));
    std::unique_lock<std::mutex> l(mu_);
    ASSERT_TRUE(cv_.wait_for(l, 5s, [&] { return later_.size() == i + 1; }));
  }
  auto quick = Serve("/quick", "", "10.0.3.9");
  ASSERT_TRUE(Finished(*quick, 5s));
  for (auto& c : calls) EXPECT_FALSE(Finished(*c));
  std::vector<std::function<void()>> later;
  {
    std::lock_guard<std::mutex> l(mu_);
    later.swap(later_);
  }
  for (auto& done : later) done();
  for (auto& c : calls) {
    ASSERT_TRUE(Finished(*c));
    EXPECT_EQ(c->res.status, 201);
  }
}

TEST_F(RequestSchedulerTest, ResumeRunsTheNextStepOnAWorker) {
  Call c;
  c.req.method = "GET";
  c.req.path = "/v1.0/users";
  c.req.remote_address = "10.0.4.1:1234";
  c.res.request_id = "r";
  EXPECT_FALSE(RequestScheduler::OnWorker());
  std::promise<bool> on_worker;
  http::Done done = c.MakeDone();
  scheduler_.Resume(
      c.req, c.res, [done] { done(); },
      [&](std::function<void()> finish) {
        on_worker.set_value(RequestScheduler::OnWorker());
        c.res.SetJson(204, "");
        finish();
      });
  ASSERT_TRUE(Finished(c, 5s));
  EXPECT_TRUE(on_worker.get_future().get());
  EXPECT_EQ(c.res.status, 204);
}

}  // namespace
}  // namespace meridian::server
