// ConfigStore: the configuration manager of PacificA. In a cluster it is etcd (cluster/); in the
// simulation a map with the same compare-and-swap semantics.
//
// It holds every partition's configuration and the live nodes. A partition's configuration
// changes only by compare-and-swap on the revision it was read at, so two controllers (or a
// controller and a primary replacing its sync secondary) can never both win. A node is live while
// its registration's lease is kept alive; a lapsed lease is a failure detector, not a lock:
// safety rests on the epochs in the configurations.
//
// Calls complete through their callbacks, on any thread.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/replication.pb.h"

namespace meridian::replication {

struct VersionedConfig {
  proto::PartitionConfig config;
  int64_t revision = 0;  // 0: no configuration stored yet
};

class ConfigStore {
 public:
  virtual ~ConfigStore() = default;
  virtual void Get(const std::string& partition,
                   std::function<void(Result<VersionedConfig>)> done) = 0;
  // Stores `next` if the partition's configuration is still at `expected_revision` (0: absent).
  // Returns the new revision, or kFailedPrecondition when another change came first.
  virtual void CompareAndSwap(const std::string& partition, int64_t expected_revision,
                              const proto::PartitionConfig& next,
                              std::function<void(Result<int64_t>)> done) = 0;
  virtual void ListPartitions(std::function<void(Result<std::vector<VersionedConfig>>)> done) = 0;
  // The nodes whose registration lease is alive.
  virtual void LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) = 0;
};

}  // namespace meridian::replication
