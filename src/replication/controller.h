// Controller: places partitions and runs emergency failover.
//
// It reads the configuration of every partition and the live nodes (those whose etcd lease is
// alive). A partition without a configuration gets a first placement once its region has the
// nodes for one, with its primary on the node whose copy reaches furthest. A partition whose primary is no longer live gets a new primary: the live member
// of its sync set whose log reaches furthest, under the next epoch, by compare-and-swap. Only a
// sync member can be promoted: every acknowledged write is durable on each of them, and on no
// other node necessarily, so promoting anyone else could lose one. With no live sync member the
// partition stays without a writable primary (and says so) rather than lose a write.
//
// Every node runs one and one is elected through etcd to act; should two act at once (an
// election is a lease, not a lock), they cannot undo each other, since every change is a
// compare-and-swap on the revision it was decided from.
//
// Threading: runs on its node's Loop.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "replication/config_store.h"
#include "replication/loop.h"
#include "replication/placement.h"
#include "replication/transport.h"

namespace meridian::replication {

struct PartitionSpec {
  std::string id;
  std::string region;
};

struct ControllerOptions {
  std::string node;
  int64_t poll_ms = 200;
  // The partitions this cluster holds, placed when they have no configuration yet, with this
  // many sync members.
  std::vector<PartitionSpec> partitions;
  size_t sync_members = 1;
  // A first placement waits until the live nodes have not changed for this long, so that nodes
  // starting together are all there and every partition starts with its primary on one node.
  int64_t placement_settle_ms = 0;
  // Whether this node's controller is the elected one (an etcd key under its lease); the others
  // stand by. Null: always act (the simulation runs every node's at once, which is safe since
  // every change is a compare-and-swap: the election only saves work).
  std::function<bool()> elected;
};

class Controller {
 public:
  Controller(ControllerOptions options, Loop* loop, Transport* transport, ConfigStore* config);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  void Start();
  // Failovers this controller carried out (its compare-and-swap won). Thread-safe.
  uint64_t failovers() const { return failovers_.load(); }

 private:
  void Tick();
  void Decide(const std::vector<VersionedConfig>& configs, const NodeMap& live);
  void Place(const PartitionSpec& spec, const NodeMap& live);
  void Failover(const VersionedConfig& vc, const NodeMap& live);
  void Gather(const std::string& partition, const std::vector<std::string>& nodes,
              std::function<void(const std::vector<proto::ReplicaStatus>&)> done);
  void Promote(const VersionedConfig& vc, const NodeMap& live,
               const std::vector<proto::ReplicaStatus>& statuses);

  const ControllerOptions options_;
  Loop* const loop_;
  Transport* const transport_;
  ConfigStore* const config_;
  std::shared_ptr<bool> alive_;
  std::set<std::string> last_live_;  // the live nodes of the last tick
  int64_t live_since_ms_ = 0;        // when they last changed
  std::set<std::string> busy_;     // partitions with a failover under way
  std::set<std::string> stalled_;  // partitions reported as having no live sync member
  std::atomic<uint64_t> failovers_{0};
};

}  // namespace meridian::replication
