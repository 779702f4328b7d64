// EtcdConfigStore: replication::ConfigStore kept in etcd, and NodeRegistration, which keeps a
// node listed among the live nodes under an etcd lease.
//
// Layout, for a cluster named C:
//   /meridian/C/partitions/<partition id>  a binary proto::PartitionConfig
//   /meridian/C/nodes/<node id>            a binary proto::NodeInfo, attached to the node's lease
// A configuration's revision is its key's etcd mod_revision.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "cluster/etcd_client.h"
#include "common/status.h"
#include "meridian/replication.pb.h"
#include "replication/config_store.h"

namespace meridian::cluster {

// The etcd keys of a cluster's data (see the file comment).
std::string PartitionKey(std::string_view cluster, std::string_view partition);
std::string NodeKey(std::string_view cluster, std::string_view node);

// The configuration manager of a Meridian cluster, in etcd. Thread-safe: calls may come from any
// thread; each is queued to the store's one worker thread, which serves them in order and runs
// their callbacks. The destructor finishes the queued calls (running their callbacks), then stops
// the worker; a call made once destruction has begun fails at once with kUnavailable. The client
// is borrowed and must outlive the store.
//
// Failures beyond EtcdClient's: kInvalidArgument for a partition id that is empty or holds a
// '/', or a configuration whose `partition` is not the partition it is stored as; kInternal
// for a stored value that does not parse.
class EtcdConfigStore final : public replication::ConfigStore {
 public:
  EtcdConfigStore(EtcdClient* client, std::string cluster_name);
  ~EtcdConfigStore() override;
  EtcdConfigStore(const EtcdConfigStore&) = delete;
  EtcdConfigStore& operator=(const EtcdConfigStore&) = delete;

  void Get(const std::string& partition,
           std::function<void(Result<replication::VersionedConfig>)> done) override;
  void CompareAndSwap(const std::string& partition, int64_t expected_revision,
                      const proto::PartitionConfig& next,
                      std::function<void(Result<int64_t>)> done) override;
  void ListPartitions(
      std::function<void(Result<std::vector<replication::VersionedConfig>>)> done) override;
  void LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) override;

 private:
  // Queues `work`, or runs `refuse` at once when the store is being destroyed.
  void Enqueue(std::function<void()> work, std::function<void()> refuse);
  void Run();

  Result<replication::VersionedConfig> DoGet(const std::string& partition);
  Result<int64_t> DoCompareAndSwap(const std::string& partition, int64_t expected_revision,
                                   const proto::PartitionConfig& next);
  Result<std::vector<replication::VersionedConfig>> DoListPartitions();
  Result<std::vector<proto::NodeInfo>> DoLiveNodes();

  EtcdClient* const client_;
  const std::string cluster_;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::thread worker_;                       // last: starts once the rest is built
};

// A node's registration among a cluster's live nodes: a lease of `ttl`, the node's key put under
// it, and a thread of its own that renews the lease every ttl/3. When the lease has expired (or
// was revoked), the thread grants a new one and puts the key again; while etcd cannot be reached
// it keeps trying. The destructor stops the thread and revokes the lease, so the node leaves the
// list at once. Thread-safe; the client is borrowed and must outlive the registration.
class NodeRegistration {
 public:
  // Registers the node before returning. Fails with kInvalidArgument for an empty node id, one
  // that holds a '/', or a ttl under one second, and as EtcdClient's calls do otherwise.
  static Result<std::unique_ptr<NodeRegistration>> Start(EtcdClient* client,
                                                         std::string cluster_name,
                                                         proto::NodeInfo node,
                                                         std::chrono::seconds ttl);
  ~NodeRegistration();
  NodeRegistration(const NodeRegistration&) = delete;
  NodeRegistration& operator=(const NodeRegistration&) = delete;

  // Whether the node's lease is known to be alive: the last successful grant or renewal began
  // less than one TTL ago.
  bool registered() const;
  // The current lease (0 while there is none).
  int64_t lease() const { return lease_.load(); }

  // Stops renewing without revoking, as a crash would: the node stays listed until its lease
  // expires. The destructor then revokes nothing.
  void Abandon();

 private:
  NodeRegistration(EtcdClient* client, std::string key, std::string value,
                   std::chrono::seconds ttl);
  // Grants a lease if there is none and puts the key under it.
  Status Register();
  // One renewal (or re-registration).
  void Tick();
  void Run();
  void StopThread();
  void MarkAlive(std::chrono::steady_clock::time_point since);

  EtcdClient* const client_;
  const std::string key_;
  const std::string value_;  // the serialized NodeInfo
  const std::chrono::seconds ttl_;

  std::atomic<int64_t> lease_{0};
  bool key_written_ = false;  // the key is under lease_; used by the owner of the renewals
  // steady_clock ticks until which the lease is known to be alive.
  std::atomic<int64_t> alive_until_{0};

  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  bool abandoned_ = false;
  std::thread thread_;
};

}  // namespace meridian::cluster
