#include "server/residency_report.h"

#include <algorithm>
#include <filesystem>
#include <map>

#include "directory/regions.h"

namespace meridian::server {
namespace json = boost::json;

namespace {

constexpr char kEmbeddedNode[] = "embedded";
constexpr char kWhatLivesThere[] =
    "Each partition is one RocksDB database holding its op log and its state, in "
    "<data directory>/partitions/<partition> on every member node (after a checkpoint install, "
    "in the data-<n> subdirectory that ACTIVE names); checkpoints streamed to a joining member are "
    "made in checkpoint-<n> beside it on the sending member, and installed beside it on the "
    "receiving one. Nothing of a partition is stored on a node that is not its member.";

struct Member {
  std::string node;
  std::string role;
};

// Members of a partition, primary first, each named once with its role.
std::vector<Member> MembersOf(const proto::PartitionConfig& c) {
  std::vector<Member> out;
  if (!c.primary().empty()) out.push_back({c.primary(), "primary"});
  for (const auto& n : c.sync()) out.push_back({n, "sync"});
  for (const auto& n : c.secondaries()) out.push_back({n, "secondary"});
  for (const auto& n : c.candidates()) out.push_back({n, "candidate"});
  return out;
}

std::string RegionName(const std::string& code) {
  auto r = directory::ParseRegionCode(code);
  return r.ok() ? std::string(directory::RegionDisplayName(*r)) : code;
}

std::string PartitionPath(const std::string& data_dir, const std::string& partition) {
  return (std::filesystem::path(data_dir) / "partitions" / partition).lexically_normal().string();
}

// A partition's members as the report shows them, and whether all are known to be in `region`.
json::array MemberRows(const ResidencyInput& in, const std::string& partition,
                       const std::string& region, bool with_storage, bool* all_in_region) {
  json::array rows;
  *all_in_region = true;
  if (!in.cluster) {
    json::object row{{"node", kEmbeddedNode}, {"role", "primary"}, {"live", true}};
    if (with_storage) row["dataPath"] = PartitionPath(in.data_dir, partition);
    rows.push_back(std::move(row));
    return rows;
  }
  auto config = in.cluster->configs.find(partition);
  if (config == in.cluster->configs.end()) {
    *all_in_region = false;  // not placed: nothing to vouch for
    return rows;
  }
  for (const Member& m : MembersOf(config->second.config)) {
    json::object row{{"node", m.node}, {"role", m.role}};
    auto live = in.cluster->nodes.find(m.node);
    if (live != in.cluster->nodes.end()) {
      row["live"] = true;
      row["region"] = live->second.region();
      row["datacenter"] = live->second.datacenter();
      bool in_region = replication::MayHold(live->second, region);
      row["inRegion"] = in_region;
      *all_in_region = *all_in_region && in_region;
    } else {
      // A member whose lease lapsed: its registration (region, datacenter) is gone from etcd.
      row["live"] = false;
      row["inRegion"] = nullptr;
      *all_in_region = false;
    }
    if (with_storage) {
      if (m.node == in.node) {
        row["dataPath"] = PartitionPath(in.data_dir, partition);
      } else {
        row["dataPath"] = "<data directory of " + m.node + ">/partitions/" + partition;
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

json::object ResidencyReport(const ResidencyInput& in) {
  json::array tenants;
  for (const auto& t : in.tenants) {
    bool resident = false;
    json::array domains;
    for (const auto& d : t.domains) domains.emplace_back(d);
    json::array nodes = MemberRows(in, t.partition, t.region, false, &resident);
    tenants.push_back(json::object{{"id", t.id},
                                   {"region", t.region},
                                   {"regionName", RegionName(t.region)},
                                   {"partition", t.partition},
                                   {"domains", std::move(domains)},
                                   {"nodes", std::move(nodes)},
                                   {"resident", resident}});
  }

  // Every partition the deployment knows of: the configured ones, or on the embedded default
  // those its tenants use and the global one.
  std::map<std::string, std::string> partitions;  // id -> region
  partitions["global"] = replication::kGlobalRegion;
  if (in.cluster) {
    for (const auto& [id, vc] : in.cluster->configs) partitions[id] = vc.config.region();
  }
  for (const auto& t : in.tenants) partitions.emplace(t.partition, t.region);
  json::array rows;
  for (const auto& [id, region] : partitions) {
    bool in_region = false;
    json::array members = MemberRows(in, id, region, true, &in_region);
    json::object row{{"id", id},
                     {"region", region},
                     {"holds", id == "global" ? "routing metadata and deployment keys only"
                                              : "tenant data"},
                     {"tenants", static_cast<int64_t>(std::count_if(
                                     in.tenants.begin(), in.tenants.end(),
                                     [&](const auto& t) { return t.partition == id; }))},
                     {"members", std::move(members)},
                     {"allInRegion", in_region}};
    if (in.cluster) {
      auto c = in.cluster->configs.find(id);
      row["placed"] = c != in.cluster->configs.end();
      if (c != in.cluster->configs.end()) row["epoch"] = static_cast<int64_t>(c->second.config.epoch());
    }
    rows.push_back(std::move(row));
  }
  return json::object{{"node", in.node},
                      {"mode", in.cluster ? "cluster" : "embedded"},
                      {"generatedAt", in.generated_at},
                      {"dataDirectory", in.data_dir},
                      {"storage", kWhatLivesThere},
                      {"tenants", std::move(tenants)},
                      {"partitions", std::move(rows)}};
}

}  // namespace meridian::server
