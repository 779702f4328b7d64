#include "cluster/etcd_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "cluster/testing/etcd_process.h"

namespace meridian::cluster {
namespace {

using Clock = std::chrono::steady_clock;

using EtcdClientTest = testing::EtcdTest;

TEST_F(EtcdClientTest, PutThenGetReturnsTheValueAndItsRevisions) {
  const std::string value("bin\0ary\xff", 8);
  auto first = client_->Put("/t/k", value);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = client_->Put("/t/k", "v2");
  ASSERT_TRUE(second.ok());
  EXPECT_GT(*second, *first);

  auto got = client_->Get("/t/k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->key, "/t/k");
  EXPECT_EQ((*got)->value, "v2");
  EXPECT_EQ((*got)->mod_revision, *second);
  EXPECT_EQ((*got)->create_revision, *first);
  EXPECT_EQ((*got)->lease, 0);

  ASSERT_TRUE(client_->Put("/t/bin", value).ok());
  auto bin = client_->Get("/t/bin");
  ASSERT_TRUE(bin.ok() && bin->has_value());
  EXPECT_EQ((*bin)->value, value);
}

TEST_F(EtcdClientTest, GetOfAnAbsentKeyIsEmpty) {
  auto got = client_->Get("/t/none");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_FALSE(got->has_value());
}

TEST_F(EtcdClientTest, GetPrefixReturnsExactlyThePrefixedKeysInOrder) {
  for (const char* key : {"/p/b", "/p/a", "/p", "/p0", "/o", "/p/c/d"}) {
    ASSERT_TRUE(client_->Put(key, key).ok());
  }
  auto got = client_->GetPrefix("/p/");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<std::string> keys;
  for (const KeyValue& kv : *got) {
    keys.push_back(kv.key);
    EXPECT_EQ(kv.value, kv.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"/p/a", "/p/b", "/p/c/d"}));

  auto none = client_->GetPrefix("/q/");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(EtcdClientTest, DeleteRemovesTheKeyAndAbsentKeysDeleteFine) {
  ASSERT_TRUE(client_->Put("/t/k", "v").ok());
  ASSERT_TRUE(client_->Delete("/t/k").ok());
  auto got = client_->Get("/t/k");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_TRUE(client_->Delete("/t/k").ok());
}

TEST_F(EtcdClientTest, CompareAndSwapSucceedsAtTheCurrentRevisionAndFailsAtAStaleOne) {
  auto created = client_->CompareAndSwap("/t/cas", 0, "one");
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto swapped = client_->CompareAndSwap("/t/cas", *created, "two");
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  EXPECT_GT(*swapped, *created);

  auto stale = client_->CompareAndSwap("/t/cas", *created, "three");
  EXPECT_EQ(stale.status().code(), Code::kFailedPrecondition);
  auto got = client_->Get("/t/cas");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "two");
  EXPECT_EQ((*got)->mod_revision, *swapped);

  // A revision from the future does not match either.
  EXPECT_EQ(client_->CompareAndSwap("/t/cas", *swapped + 100, "x").status().code(),
            Code::kFailedPrecondition);
  // Nor does any revision for a key that does not exist.
  EXPECT_EQ(client_->CompareAndSwap("/t/absent", *swapped, "x").status().code(),
            Code::kFailedPrecondition);
}

TEST_F(EtcdClientTest, CreateIfAbsentRefusesWhenTheKeyExists) {
  ASSERT_TRUE(client_->Put("/t/k", "first").ok());
  auto again = client_->CompareAndSwap("/t/k", 0, "second");
  EXPECT_EQ(again.status().code(), Code::kFailedPrecondition);
  auto got = client_->Get("/t/k");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "first");
}

TEST_F(EtcdClientTest, TwoThreadsRacingCompareAndSwapFromOneRevisionHaveExactlyOneWinner) {
  auto base = client_->Put("/t/race", "base");
  ASSERT_TRUE(base.ok());
  int64_t revision = *base;
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> wins{0};
    std::atomic<int> refused{0};
    std::atomic<int64_t> winning_revision{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&, t] {
        while (!go.load()) std::this_thread::yield();
        auto r = client_->CompareAndSwap("/t/race", revision, "thread" + std::to_string(t));
        if (r.ok()) {
          ++wins;
          winning_revision = *r;
        } else if (r.status().code() == Code::kFailedPrecondition) {
          ++refused;
        }
      });
    }
    go = true;
    for (auto& t : threads) t.join();
    ASSERT_EQ(wins.load(), 1) << "round " << round;
    ASSERT_EQ(refused.load(), 1) << "round " << round;
    revision = winning_revision.load();
  }
}

TEST_F(EtcdClientTest, LeaseKeepsItsKeysUntilRevoked) {
  auto lease = client_->LeaseGrant(5);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  ASSERT_TRUE(client_->Put("/t/leased", "v", *lease).ok());
  auto got = client_->Get("/t/leased");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->lease, *lease);

  auto ttl = client_->LeaseKeepAlive(*lease);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_EQ(*ttl, 5);

  ASSERT_TRUE(client_->LeaseRevoke(*lease).ok());
  got = client_->Get("/t/leased");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value());
  EXPECT_EQ(client_->LeaseKeepAlive(*lease).status().code(), Code::kNotFound);
  EXPECT_EQ(client_->LeaseRevoke(*lease).code(), Code::kNotFound);
  EXPECT_EQ(client_->Put("/t/leased", "v", *lease).status().code(), Code::kNotFound);
}

TEST_F(EtcdClientTest, AnExpiredLeaseIsNotFoundAndTakesItsKeys) {
  auto lease = client_->LeaseGrant(1);
  ASSERT_TRUE(lease.ok());
  ASSERT_TRUE(client_->Put("/t/leased", "v", *lease).ok());
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    auto got = client_->Get("/t/leased");
    ASSERT_TRUE(got.ok());
    if (!got->has_value()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto got = client_->Get("/t/leased");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "the key outlived its lease";
  EXPECT_EQ(client_->LeaseKeepAlive(*lease).status().code(), Code::kNotFound);
}

TEST_F(EtcdClientTest, StoppedEtcdFailsWithUnavailableWithinTheTimeoutAndRecoversAfterStart) {
  auto client = NewClient({etcd_->endpoint()}, std::chrono::milliseconds(500));
  ASSERT_TRUE(client->Put("/t/k", "before").ok());
  etcd_->Stop();

  for (int i = 0; i < 3; ++i) {  // a pooled connection, then fresh ones
    const auto start = Clock::now();
    auto got = client->Get("/t/k");
    EXPECT_EQ(got.status().code(), Code::kUnavailable) << got.status().ToString();
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
  }
  EXPECT_EQ(client->Put("/t/k", "during").status().code(), Code::kUnavailable);
  EXPECT_EQ(client->CompareAndSwap("/t/k", 1, "during").status().code(), Code::kUnavailable);
  EXPECT_EQ(client->LeaseGrant(5).status().code(), Code::kUnavailable);

  ASSERT_TRUE(etcd_->Start().ok());
  auto got = client->Get("/t/k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "before");
  EXPECT_TRUE(client->Put("/t/k", "after").ok());
}

TEST_F(EtcdClientTest, AnUnreachableFirstEndpointIsSkipped) {
  auto dead = testing::FreeLoopbackPort();
  ASSERT_TRUE(dead.ok());
  auto client = NewClient({"127.0.0.1:" + std::to_string(*dead), etcd_->endpoint()});
  // Writes too: nothing was sent to the dead endpoint, so moving on is safe.
  auto put = client->Put("/t/k", "v");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto cas = client->CompareAndSwap("/t/k", *put, "w");
  ASSERT_TRUE(cas.ok()) << cas.status().ToString();
  auto got = client->Get("/t/k");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "w");
}

// A loopback listener that accepts connections and closes each at once, without answering: a
// member that dies while holding a request. Stops with the object.
class HangUp {
 public:
  HangUp() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        int conn = accept(fd_, nullptr, nullptr);
        if (conn < 0) return;  // shut down
        char buf[4096];
        (void)!read(conn, buf, sizeof(buf));  // wait for the request, then hang up
        close(conn);
      }
    });
  }
  ~HangUp() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
};

TEST_F(EtcdClientTest, AWriteThatMayHaveBeenSentIsNotSentAgainButAReadMovesOn) {
  HangUp hang_up;
  auto writer = NewClient({hang_up.endpoint(), etcd_->endpoint()});
  auto put = writer->Put("/t/k", "v");
  EXPECT_EQ(put.status().code(), Code::kUnavailable);
  auto got = client_->Get("/t/k");
  ASSERT_TRUE(got.ok());
  EXPECT_FALSE(got->has_value()) << "the write was sent to a second endpoint";

  ASSERT_TRUE(client_->Put("/t/k", "v").ok());
  auto reader = NewClient({hang_up.endpoint(), etcd_->endpoint()});
  got = reader->Get("/t/k");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->has_value());
}

TEST_F(EtcdClientTest, NoReachableEndpointIsUnavailable) {
  auto a = testing::FreeLoopbackPort();
  ASSERT_TRUE(a.ok());
  auto client = NewClient({"127.0.0.1:" + std::to_string(*a)}, std::chrono::milliseconds(300));
  EXPECT_EQ(client->Get("/t/k").status().code(), Code::kUnavailable);
  EXPECT_EQ(client->Put("/t/k", "v").status().code(), Code::kUnavailable);
}

TEST(EtcdClientOptionsTest, MalformedEndpointsAreRefused) {
  for (const char* endpoint : {"", "host", "host:", "host:0", "host:70000", "a:b:1", ":80"}) {
    EtcdOptions options;
    options.endpoints = {endpoint};
    EXPECT_EQ(EtcdClient::Create(options).status().code(), Code::kInvalidArgument) << endpoint;
  }
  EXPECT_EQ(EtcdClient::Create(EtcdOptions{}).status().code(), Code::kInvalidArgument);
  EtcdOptions tls;
  tls.endpoints = {"127.0.0.1:2379"};
  tls.tls = true;  // without a CA
  EXPECT_EQ(EtcdClient::Create(tls).status().code(), Code::kInvalidArgument);
  EtcdOptions ok;
  ok.endpoints = {"127.0.0.1:2379", "http://[::1]:2379", "https://etcd.example:2379"};
  EXPECT_TRUE(EtcdClient::Create(ok).ok());
}

}  // namespace
}  // namespace meridian::cluster
