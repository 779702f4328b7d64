// The residency report (`GET /operator/v1/residency`, `meridian residency report`): for every
// tenant, its region and partition and the nodes that hold that partition (datacenter, role), and
// for every partition where its op log, state and checkpoints live on disk.
//
// Built from routing metadata only (the global partition's tenant records) and the cluster's
// configurations; it reads no tenant's objects, so any node can answer it whatever its region.
// Pure: no I/O, so the rules it reports on are tested without a cluster.
#pragma once

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "directory/global_directory.h"
#include "server/cluster_node.h"

namespace meridian::server {

struct ResidencyInput {
  std::vector<directory::TenantInfo> tenants;
  // The cluster's configurations and live nodes; nullopt on the embedded default, where every
  // partition lives on the one node "embedded".
  std::optional<ClusterView> cluster;
  std::string node;      // the answering node ("embedded" on the embedded default)
  std::string data_dir;  // its data directory, absolute
  std::string generated_at;  // ISO 8601
};

// The report as JSON: {"node", "mode", "generatedAt", "tenants": [...], "partitions": [...]}.
// A member that is not live has "live": false and no known region; a tenant is "resident" only
// when every member of its partition is known to be in its region (unknown counts as not).
boost::json::object ResidencyReport(const ResidencyInput& input);

}  // namespace meridian::server
