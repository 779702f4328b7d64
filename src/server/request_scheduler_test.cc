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
    ASSERT_TRUE(scheduler_
                    .Start(
                        &metrics_,
                        [this](const http::Request& req, http::Response& res) {
                          if (req.path.ends_with("/slow")) {
                            std::unique_lock<std::mutex> l(mu_);
                            ++slow_started_;
                            cv_.notify_all();
                            cv_.wait(l, [&] { return open_; });
                          }
                          dispatched_thread_ = std::this_thread::get_id();
                          res.SetJson(200, "{}");
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

}  // namespace
}  // namespace meridian::server
