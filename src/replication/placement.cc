#include "replication/placement.h"

#include <set>

namespace meridian::replication {
namespace {

Status Refuse(std::string why) { return Status(Code::kFailedPrecondition, std::move(why)); }

std::string DatacenterOf(const NodeMap& nodes, const std::string& id) {
  auto it = nodes.find(id);
  return it == nodes.end() ? std::string() : it->second.datacenter();
}

}  // namespace

bool MayHold(const proto::NodeInfo& node, const std::string& region) {
  return region == kGlobalRegion || node.region() == region;
}

bool HasRemoteSync(const proto::PartitionConfig& c, const NodeMap& nodes) {
  std::string home = DatacenterOf(nodes, c.primary());
  for (const auto& s : c.sync()) {
    std::string dc = DatacenterOf(nodes, s);
    if (!dc.empty() && !home.empty() && dc != home) return true;
  }
  return false;
}

Status CheckPlacement(const proto::PartitionConfig& c, const NodeMap& nodes) {
  const std::string where = "partition " + c.partition() + " (region " + c.region() + "): ";
  if (c.primary().empty()) return Refuse(where + "no primary");
  std::set<std::string> seen;
  std::vector<std::string> members{c.primary()};
  members.insert(members.end(), c.sync().begin(), c.sync().end());
  members.insert(members.end(), c.secondaries().begin(), c.secondaries().end());
  members.insert(members.end(), c.candidates().begin(), c.candidates().end());
  for (const auto& m : members) {
    if (!seen.insert(m).second) return Refuse(where + "node " + m + " is named twice");
    auto it = nodes.find(m);
    if (it == nodes.end()) return Refuse(where + "node " + m + " is not a registered node");
    if (!MayHold(it->second, c.region())) {
      return Refuse(where + "node " + m + " is in region " + it->second.region() +
                    ": a partition's data never leaves its region");
    }
  }
  if (!HasRemoteSync(c, nodes)) {
    return Refuse(where + "no sync member in another datacenter than the primary's (" +
                  DatacenterOf(nodes, c.primary()) +
                  "): an acknowledged write must survive the loss of a datacenter");
  }
  return Status::Ok();
}

Result<proto::PartitionConfig> InitialPlacement(const std::string& partition,
                                                const std::string& region, const NodeMap& nodes,
                                                const std::string& preferred_primary,
                                                size_t replicas, size_t sync_members) {
  proto::PartitionConfig c;
  c.set_partition(partition);
  c.set_region(region);
  c.set_epoch(1);
  std::vector<const proto::NodeInfo*> in_region;
  for (const auto& [id, n] : nodes) {
    if (MayHold(n, region)) in_region.push_back(&n);
  }
  auto pref = nodes.find(preferred_primary);
  const proto::NodeInfo* primary =
      pref != nodes.end() && MayHold(pref->second, region) ? &pref->second
      : in_region.empty()                                    ? nullptr
                                                             : in_region.front();
  if (!primary) return Refuse("partition " + partition + ": no node in region " + region);
  c.set_primary(primary->id());
  size_t limit = replicas == 0 ? in_region.size() : replicas;
  size_t members = 1;
  for (const auto* n : in_region) {
    if (members >= limit) break;
    if (n->id() != primary->id() && n->datacenter() != primary->datacenter()) {
      c.add_sync(n->id());
      ++members;
      break;
    }
  }
  for (const auto* n : in_region) {
    if (members >= limit) break;
    if (n->id() == primary->id() || (c.sync_size() > 0 && n->id() == c.sync(0))) continue;
    if (static_cast<size_t>(c.sync_size()) < sync_members) {
      c.add_sync(n->id());
    } else {
      c.add_secondaries(n->id());
    }
    ++members;
  }
  MERIDIAN_RETURN_IF_ERROR(CheckPlacement(c, nodes));
  return c;
}

}  // namespace meridian::replication
