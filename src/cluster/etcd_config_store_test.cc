#include "cluster/etcd_config_store.h"

#include <gtest/gtest.h>

#include <future>
#include <set>
#include <thread>

#include "cluster/testing/etcd_process.h"

namespace meridian::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using replication::VersionedConfig;

// Calls `call` with a callback and waits for its result.
template <typename T, typename Call>
Result<T> Await(Call call) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  call([&promise](Result<T> r) { promise.set_value(std::move(r)); });
  return future.get();
}

proto::PartitionConfig Config(const std::string& partition, uint64_t epoch,
                              const std::string& primary) {
  proto::PartitionConfig config;
  config.set_partition(partition);
  config.set_region("eu");
  config.set_epoch(epoch);
  config.set_primary(primary);
  config.add_sync("n2");
  config.add_secondaries("n3");
  return config;
}

proto::NodeInfo Node(const std::string& id) {
  proto::NodeInfo node;
  node.set_id(id);
  node.set_region("eu");
  node.set_peer_address("127.0.0.1:7000");
  return node;
}

// Polls `condition` every 20 ms until it holds or `limit` has passed; returns whether it held.
template <typename F>
bool Eventually(F condition, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

class EtcdConfigStoreTest : public testing::EtcdTest {
 protected:
  void SetUp() override {
    EtcdTest::SetUp();
    if (HasFatalFailure()) return;
    store_ = std::make_unique<EtcdConfigStore>(client_.get(), "c1");
  }

  Result<VersionedConfig> Get(const std::string& partition) {
    return Await<VersionedConfig>([&](auto done) { store_->Get(partition, done); });
  }
  Result<int64_t> Cas(const std::string& partition, int64_t expected,
                      const proto::PartitionConfig& next) {
    return Await<int64_t>(
        [&](auto done) { store_->CompareAndSwap(partition, expected, next, done); });
  }
  Result<std::vector<VersionedConfig>> List() {
    return Await<std::vector<VersionedConfig>>([&](auto done) { store_->ListPartitions(done); });
  }
  Result<std::vector<proto::NodeInfo>> Live() {
    return Await<std::vector<proto::NodeInfo>>([&](auto done) { store_->LiveNodes(done); });
  }
  bool Listed(const std::string& node) {
    auto live = Live();
    EXPECT_TRUE(live.ok()) << live.status().ToString();
    if (!live.ok()) return false;
    for (const proto::NodeInfo& n : *live) {
      if (n.id() == node) return true;
    }
    return false;
  }

  std::unique_ptr<EtcdConfigStore> store_;
};

TEST_F(EtcdConfigStoreTest, AnUnknownPartitionIsAtRevisionZero) {
  auto got = Get("p1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->revision, 0);
  EXPECT_EQ(got->config.epoch(), 0u);
}

TEST_F(EtcdConfigStoreTest, CompareAndSwapCreatesThenAdvancesAndRefusesStaleRevisions) {
  auto created = Cas("p1", 0, Config("p1", 1, "n1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  auto got = Get("p1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->revision, *created);
  EXPECT_EQ(got->config.epoch(), 1u);
  EXPECT_EQ(got->config.primary(), "n1");

  // Creating it again refuses.
  EXPECT_EQ(Cas("p1", 0, Config("p1", 1, "n9")).status().code(), Code::kFailedPrecondition);

  auto next = Cas("p1", *created, Config("p1", 2, "n2"));
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_GT(*next, *created);
  EXPECT_EQ(Cas("p1", *created, Config("p1", 3, "n3")).status().code(), Code::kFailedPrecondition);
  got = Get("p1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->revision, *next);
  EXPECT_EQ(got->config.primary(), "n2");
}

TEST_F(EtcdConfigStoreTest, ConfigurationsAreStoredAsBinaryProtosUnderTheClusterKey) {
  ASSERT_TRUE(Cas("p1", 0, Config("p1", 4, "n1")).ok());
  auto raw = client_->Get("/meridian/c1/partitions/p1");
  ASSERT_TRUE(raw.ok() && raw->has_value());
  proto::PartitionConfig stored;
  ASSERT_TRUE(stored.ParseFromString((*raw)->value));
  EXPECT_EQ(stored.epoch(), 4u);
  EXPECT_EQ(PartitionKey("c1", "p1"), "/meridian/c1/partitions/p1");
  EXPECT_EQ(NodeKey("c1", "n1"), "/meridian/c1/nodes/n1");
}

TEST_F(EtcdConfigStoreTest, ListPartitionsReturnsThisClustersPartitionsOnly) {
  ASSERT_TRUE(Cas("p1", 0, Config("p1", 1, "n1")).ok());
  ASSERT_TRUE(Cas("p2", 0, Config("p2", 1, "n2")).ok());
  EtcdConfigStore other(client_.get(), "c10");  // a name that "c1" is a prefix of
  auto in_other = Await<int64_t>(
      [&](auto done) { other.CompareAndSwap("p3", 0, Config("p3", 1, "n3"), done); });
  ASSERT_TRUE(in_other.ok());

  auto list = List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].config.partition(), "p1");
  EXPECT_EQ((*list)[1].config.partition(), "p2");
  EXPECT_GT((*list)[0].revision, 0);
}

TEST_F(EtcdConfigStoreTest, MalformedRequestsAndValuesAreRefused) {
  EXPECT_EQ(Get("").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Get("a/b").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Cas("p1", 0, Config("p2", 1, "n1")).status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(client_->Put(PartitionKey("c1", "bad"), "\xff\xff\xff").ok());
  EXPECT_EQ(Get("bad").status().code(), Code::kInternal);
  EXPECT_EQ(List().status().code(), Code::kInternal);
}

TEST_F(EtcdConfigStoreTest, CallbacksRunInOrderOnTheStoresThreadAndDestructionFinishesQueuedWork) {
  auto store = std::make_unique<EtcdConfigStore>(client_.get(), "c2");
  std::mutex mu;
  std::vector<int> order;
  std::set<std::thread::id> threads;
  constexpr int kCalls = 20;
  for (int i = 0; i < kCalls; ++i) {
    store->Get("p" + std::to_string(i), [&, i](Result<VersionedConfig> r) {
      EXPECT_TRUE(r.ok());
      std::lock_guard<std::mutex> lock(mu);
      order.push_back(i);
      threads.insert(std::this_thread::get_id());
    });
  }
  store.reset();  // returns only after every queued call has been answered
  ASSERT_EQ(order.size(), static_cast<size_t>(kCalls));
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(order[i], i);
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST_F(EtcdConfigStoreTest, CallsFailWithUnavailableWhileEtcdIsDownAndWorkAfterwards) {
  ASSERT_TRUE(Cas("p1", 0, Config("p1", 1, "n1")).ok());
  etcd_->Stop();
  const auto start = Clock::now();
  EXPECT_EQ(Get("p1").status().code(), Code::kUnavailable);
  EXPECT_EQ(Live().status().code(), Code::kUnavailable);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  ASSERT_TRUE(etcd_->Start().ok());
  auto got = Get("p1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->config.primary(), "n1");
}

TEST_F(EtcdConfigStoreTest, ARegistrationKeepsItsNodeListedAndItsDestructionRemovesIt) {
  auto registration =
      NodeRegistration::Start(client_.get(), "c1", Node("n1"), std::chrono::seconds(1));
  ASSERT_TRUE(registration.ok()) << registration.status().ToString();
  EXPECT_TRUE((*registration)->registered());
  EXPECT_TRUE(Listed("n1"));
  // Well past the TTL, the renewals have kept it listed.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_TRUE(Listed("n1"));
  EXPECT_TRUE((*registration)->registered());
  auto live = Live();
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].peer_address(), "127.0.0.1:7000");

  registration->reset();  // revokes: gone at once
  EXPECT_FALSE(Listed("n1"));
}

TEST_F(EtcdConfigStoreTest, AnAbandonedRegistrationLapsesWithinItsTtl) {
  auto registration =
      NodeRegistration::Start(client_.get(), "c1", Node("n1"), std::chrono::seconds(1));
  ASSERT_TRUE(registration.ok()) << registration.status().ToString();
  auto other = NodeRegistration::Start(client_.get(), "c1", Node("n2"), std::chrono::seconds(1));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(Listed("n1"));
  (*registration)->Abandon();  // as if the node had crashed
  const auto abandoned = Clock::now();
  EXPECT_TRUE(Eventually([&] { return !Listed("n1"); }, std::chrono::milliseconds(3000)));
  // etcd checks for expired leases every half second.
  EXPECT_LT(Clock::now() - abandoned, std::chrono::milliseconds(2500));
  EXPECT_FALSE((*registration)->registered());
  EXPECT_TRUE(Listed("n2"));
  registration->reset();  // revokes nothing, and does not fail
  EXPECT_TRUE(Listed("n2"));
}

TEST_F(EtcdConfigStoreTest, ARegistrationWhoseLeaseWasLostRegistersAgain) {
  auto registration =
      NodeRegistration::Start(client_.get(), "c1", Node("n1"), std::chrono::seconds(1));
  ASSERT_TRUE(registration.ok()) << registration.status().ToString();
  const int64_t first = (*registration)->lease();
  ASSERT_NE(first, 0);
  ASSERT_TRUE(client_->LeaseRevoke(first).ok());  // as if it had expired
  EXPECT_FALSE(Listed("n1"));
  EXPECT_TRUE(Eventually([&] { return Listed("n1") && (*registration)->lease() != first; },
                         std::chrono::milliseconds(2000)));
  EXPECT_TRUE((*registration)->registered());
}

TEST_F(EtcdConfigStoreTest, RegistrationRefusesBadArguments) {
  EXPECT_EQ(NodeRegistration::Start(client_.get(), "c1", Node(""), std::chrono::seconds(1))
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(NodeRegistration::Start(client_.get(), "c1", Node("a/b"), std::chrono::seconds(1))
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(NodeRegistration::Start(client_.get(), "c1", Node("n1"), std::chrono::seconds(0))
                .status()
                .code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::cluster
