#include "cluster/etcd_config_store.h"

#include <utility>

namespace meridian::cluster {
namespace {

using Clock = std::chrono::steady_clock;
using replication::VersionedConfig;

std::string ClusterPrefix(std::string_view cluster) {
  return "/meridian/" + std::string(cluster) + "/";
}
std::string PartitionsPrefix(std::string_view cluster) {
  return ClusterPrefix(cluster) + "partitions/";
}
std::string NodesPrefix(std::string_view cluster) { return ClusterPrefix(cluster) + "nodes/"; }

// An id that is one path segment of a key.
Status CheckId(std::string_view what, std::string_view id) {
  if (id.empty() || id.find('/') != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " id '" + std::string(id) +
                           "' must be non-empty and hold no '/'");
  }
  return Status::Ok();
}

Result<VersionedConfig> ParseConfig(const KeyValue& kv, std::string_view partition) {
  VersionedConfig out;
  if (!out.config.ParseFromString(kv.value)) {
    return Internal("etcd: the configuration at " + kv.key + " does not parse");
  }
  if (out.config.partition() != partition) {
    return Internal("etcd: the configuration at " + kv.key + " is of partition '" +
                    out.config.partition() + "'");
  }
  out.revision = kv.mod_revision;
  return out;
}

}  // namespace

std::string PartitionKey(std::string_view cluster, std::string_view partition) {
  return PartitionsPrefix(cluster) + std::string(partition);
}

std::string NodeKey(std::string_view cluster, std::string_view node) {
  return NodesPrefix(cluster) + std::string(node);
}

// EtcdConfigStore

EtcdConfigStore::EtcdConfigStore(EtcdClient* client, std::string cluster_name)
    : client_(client), cluster_(std::move(cluster_name)), worker_([this] { Run(); }) {}

EtcdConfigStore::~EtcdConfigStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void EtcdConfigStore::Enqueue(std::function<void()> work, std::function<void()> refuse) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(std::move(work));
      wake_.notify_one();
      return;
    }
  }
  refuse();
}

void EtcdConfigStore::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and the queue is drained
    std::function<void()> work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    work();
    lock.lock();
  }
}

namespace {
Status ShuttingDown() { return Status(Code::kUnavailable, "the config store is shutting down"); }
}  // namespace

void EtcdConfigStore::Get(const std::string& partition,
                          std::function<void(Result<VersionedConfig>)> done) {
  Enqueue([this, partition, done] { done(DoGet(partition)); }, [done] { done(ShuttingDown()); });
}

void EtcdConfigStore::CompareAndSwap(const std::string& partition, int64_t expected_revision,
                                     const proto::PartitionConfig& next,
                                     std::function<void(Result<int64_t>)> done) {
  Enqueue([this, partition, expected_revision, next,
           done] { done(DoCompareAndSwap(partition, expected_revision, next)); },
          [done] { done(ShuttingDown()); });
}

void EtcdConfigStore::ListPartitions(
    std::function<void(Result<std::vector<VersionedConfig>>)> done) {
  Enqueue([this, done] { done(DoListPartitions()); }, [done] { done(ShuttingDown()); });
}

void EtcdConfigStore::LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) {
  Enqueue([this, done] { done(DoLiveNodes()); }, [done] { done(ShuttingDown()); });
}

Result<VersionedConfig> EtcdConfigStore::DoGet(const std::string& partition) {
  MERIDIAN_RETURN_IF_ERROR(CheckId("partition", partition));
  MERIDIAN_ASSIGN_OR_RETURN(std::optional<KeyValue> kv,
                            client_->Get(PartitionKey(cluster_, partition)));
  if (!kv) return VersionedConfig{};
  return ParseConfig(*kv, partition);
}

Result<int64_t> EtcdConfigStore::DoCompareAndSwap(const std::string& partition,
                                                  int64_t expected_revision,
                                                  const proto::PartitionConfig& next) {
  MERIDIAN_RETURN_IF_ERROR(CheckId("partition", partition));
  if (next.partition() != partition) {
    return InvalidArgument("a configuration of partition '" + next.partition() +
                           "' cannot be stored as '" + partition + "'");
  }
  if (expected_revision < 0) return InvalidArgument("negative revision");
  std::string value;
  if (!next.SerializeToString(&value)) return Internal("cannot serialize the configuration");
  return client_->CompareAndSwap(PartitionKey(cluster_, partition), expected_revision, value);
}

Result<std::vector<VersionedConfig>> EtcdConfigStore::DoListPartitions() {
  const std::string prefix = PartitionsPrefix(cluster_);
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, client_->GetPrefix(prefix));
  std::vector<VersionedConfig> out;
  out.reserve(kvs.size());
  for (const KeyValue& kv : kvs) {
    MERIDIAN_ASSIGN_OR_RETURN(VersionedConfig config,
                              ParseConfig(kv, std::string_view(kv.key).substr(prefix.size())));
    out.push_back(std::move(config));
  }
  return out;
}

Result<std::vector<proto::NodeInfo>> EtcdConfigStore::DoLiveNodes() {
  const std::string prefix = NodesPrefix(cluster_);
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, client_->GetPrefix(prefix));
  std::vector<proto::NodeInfo> out;
  out.reserve(kvs.size());
  for (const KeyValue& kv : kvs) {
    proto::NodeInfo node;
    if (!node.ParseFromString(kv.value) ||
        node.id() != std::string_view(kv.key).substr(prefix.size())) {
      return Internal("etcd: the node entry at " + kv.key + " does not parse");
    }
    out.push_back(std::move(node));
  }
  return out;
}

// NodeRegistration

Result<std::unique_ptr<NodeRegistration>> NodeRegistration::Start(EtcdClient* client,
                                                                  std::string cluster_name,
                                                                  proto::NodeInfo node,
                                                                  std::chrono::seconds ttl) {
  MERIDIAN_RETURN_IF_ERROR(CheckId("node", node.id()));
  if (ttl < std::chrono::seconds(1)) return InvalidArgument("a registration TTL is >= 1 s");
  std::string value;
  if (!node.SerializeToString(&value)) return Internal("cannot serialize the node");
  std::unique_ptr<NodeRegistration> registration(
      new NodeRegistration(client, NodeKey(cluster_name, node.id()), std::move(value), ttl));
  MERIDIAN_RETURN_IF_ERROR(registration->Register());
  registration->thread_ = std::thread([r = registration.get()] { r->Run(); });
  return registration;
}

NodeRegistration::NodeRegistration(EtcdClient* client, std::string key, std::string value,
                                   std::chrono::seconds ttl)
    : client_(client), key_(std::move(key)), value_(std::move(value)), ttl_(ttl) {}

NodeRegistration::~NodeRegistration() {
  StopThread();
  if (!abandoned_ && lease_.load() != 0) {
    // Best effort: should it fail, the lease expires on its own.
    client_->LeaseRevoke(lease_.load()).IgnoreError();
  }
}

void NodeRegistration::Abandon() {
  StopThread();
  std::lock_guard<std::mutex> lock(mu_);
  abandoned_ = true;
}

void NodeRegistration::StopThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool NodeRegistration::registered() const {
  return Clock::now().time_since_epoch().count() < alive_until_.load();
}

void NodeRegistration::MarkAlive(Clock::time_point since) {
  alive_until_.store((since + ttl_).time_since_epoch().count());
}

Status NodeRegistration::Register() {
  const Clock::time_point start = Clock::now();
  if (lease_.load() == 0) {
    MERIDIAN_ASSIGN_OR_RETURN(int64_t lease, client_->LeaseGrant(ttl_.count()));
    lease_.store(lease);
    key_written_ = false;
  }
  Result<int64_t> put = client_->Put(key_, value_, lease_.load());
  if (put.status().code() == Code::kNotFound) lease_.store(0);  // expired in between
  MERIDIAN_RETURN_IF_ERROR(put.status());
  key_written_ = true;
  MarkAlive(start);
  return Status::Ok();
}

void NodeRegistration::Tick() {
  if (lease_.load() != 0 && key_written_) {
    const Clock::time_point start = Clock::now();
    Result<int64_t> ttl = client_->LeaseKeepAlive(lease_.load());
    if (ttl.ok()) {
      MarkAlive(start);
      return;
    }
    if (ttl.status().code() != Code::kNotFound) return;  // etcd unreachable: try again later
    alive_until_.store(0);
    lease_.store(0);
  }
  Register().IgnoreError();  // on failure: try again at the next tick
}

void NodeRegistration::Run() {
  const auto interval = std::chrono::duration_cast<Clock::duration>(ttl_) / 3;
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, interval, [this] { return stop_; })) {
    lock.unlock();
    Tick();
    lock.lock();
  }
}

}  // namespace meridian::cluster
