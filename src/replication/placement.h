// Placement: which nodes may hold a partition. A partition of region R lives only on nodes of
// region R (data residency), with its primary and sync set spanning at least two datacenters, so
// that an acknowledged write survives the loss of any one datacenter.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/replication.pb.h"

namespace meridian::replication {

using NodeMap = std::map<std::string, proto::NodeInfo>;

// The region of the global partition, which holds only routing metadata (tenant -> region and
// partition, verified domains) and deployment keys, never a tenant's data: any node may hold it.
inline constexpr char kGlobalRegion[] = "global";

// Whether `node` may hold a partition of `region`.
bool MayHold(const proto::NodeInfo& node, const std::string& region);

// Ok when `config` keeps the rules with the nodes as registered; otherwise kFailedPrecondition
// saying which rule it breaks and for which node: a member that is not a registered node, a
// member outside the partition's region, a node named twice, no primary, or no sync member in
// another datacenter than the primary.
Status CheckPlacement(const proto::PartitionConfig& config, const NodeMap& nodes);

// Whether some sync member sits in another datacenter than the primary (nodes unknown to `nodes`
// do not count).
bool HasRemoteSync(const proto::PartitionConfig& config, const NodeMap& nodes);

// A first configuration (epoch 1) for `partition` of `region` over `nodes`: the primary on
// `preferred_primary` when it qualifies (else the first node of the region), `sync_members`
// sync members (the first in another datacenter; more make a write wait for more nodes and
// leave more choice at a failover), every other node of the region a secondary, at most
// `replicas` members in all (0: all). Fails like CheckPlacement when the region cannot hold it.
Result<proto::PartitionConfig> InitialPlacement(const std::string& partition,
                                                const std::string& region, const NodeMap& nodes,
                                                const std::string& preferred_primary,
                                                size_t replicas = 0, size_t sync_members = 1);

}  // namespace meridian::replication
