#include "server/residency_report.h"

#include <gtest/gtest.h>

namespace meridian::server {
namespace {
namespace json = boost::json;

proto::NodeInfo Node(const std::string& id, const std::string& region, const std::string& dc) {
  proto::NodeInfo n;
  n.set_id(id);
  n.set_region(region);
  n.set_datacenter(dc);
  return n;
}

replication::VersionedConfig Config(const std::string& id, const std::string& region,
                                    const std::string& primary, std::vector<std::string> sync,
                                    std::vector<std::string> candidates = {}) {
  replication::VersionedConfig vc;
  vc.revision = 7;
  vc.config.set_partition(id);
  vc.config.set_region(region);
  vc.config.set_epoch(3);
  vc.config.set_primary(primary);
  for (const auto& s : sync) vc.config.add_sync(s);
  for (const auto& c : candidates) vc.config.add_candidates(c);
  return vc;
}

ResidencyInput TwoRegions() {
  ResidencyInput in;
  in.node = "e1";
  in.data_dir = "/var/lib/meridian";
  in.tenants = {{"t-emea", "emea", "emea-1", {"contoso.meridian.test"}},
                {"t-na", "na", "na-1", {"fabrikam.meridian.test"}}};
  ClusterView v;
  for (auto n : {Node("e1", "emea", "dc1"), Node("e2", "emea", "dc2"), Node("u1", "na", "dc3"),
                 Node("u2", "na", "dc4")}) {
    v.nodes[n.id()] = n;
  }
  v.configs["global"] = Config("global", "global", "e1", {"u1"});
  v.configs["emea-1"] = Config("emea-1", "emea", "e1", {"e2"});
  v.configs["na-1"] = Config("na-1", "na", "u1", {"u2"});
  in.cluster = v;
  return in;
}

const json::object& TenantRow(const json::object& report, const std::string& id) {
  for (const auto& t : report.at("tenants").as_array()) {
    if (t.at("id").as_string() == id) return t.as_object();
  }
  throw std::runtime_error("no tenant " + id);
}

TEST(ResidencyReportTest, ListsEachTenantsPartitionMembersWithDatacenterAndRole) {
  json::object r = ResidencyReport(TwoRegions());
  const auto& na = TenantRow(r, "t-na");
  EXPECT_EQ(na.at("partition").as_string(), "na-1");
  EXPECT_EQ(na.at("regionName").as_string(), "North America");
  const auto& nodes = na.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 2u);
  EXPECT_EQ(nodes[0].at("node").as_string(), "u1");
  EXPECT_EQ(nodes[0].at("role").as_string(), "primary");
  EXPECT_EQ(nodes[0].at("datacenter").as_string(), "dc3");
  EXPECT_EQ(nodes[1].at("role").as_string(), "sync");
  EXPECT_TRUE(na.at("resident").as_bool());
  EXPECT_TRUE(TenantRow(r, "t-emea").at("resident").as_bool());
  // The global partition may sit anywhere; it holds no tenant data.
  for (const auto& p : r.at("partitions").as_array()) {
    EXPECT_TRUE(p.at("allInRegion").as_bool()) << json::serialize(p);
    if (p.at("id").as_string() == "emea-1") {
      const auto& m = p.at("members").as_array();
      EXPECT_EQ(m[0].at("dataPath").as_string(), "/var/lib/meridian/partitions/emea-1");
      EXPECT_EQ(m[1].at("dataPath").as_string(), "<data directory of e2>/partitions/emea-1");
    }
  }
}

TEST(ResidencyReportTest, AMemberOutsideTheRegionOrNotLiveIsNotVouchedFor) {
  ResidencyInput in = TwoRegions();
  in.cluster->configs["na-1"] = Config("na-1", "na", "u1", {"e2"});
  EXPECT_FALSE(TenantRow(ResidencyReport(in), "t-na").at("resident").as_bool());

  in = TwoRegions();
  in.cluster->configs["na-1"] = Config("na-1", "na", "u1", {"u2"}, {"gone"});
  json::object r = ResidencyReport(in);
  const auto& na = TenantRow(r, "t-na");
  EXPECT_FALSE(na.at("resident").as_bool()) << "a member of unknown region is not vouched for";
  EXPECT_EQ(na.at("nodes").as_array()[2].at("role").as_string(), "candidate");
  EXPECT_FALSE(na.at("nodes").as_array()[2].at("live").as_bool());

  in = TwoRegions();
  in.cluster->configs.erase("emea-1");
  EXPECT_FALSE(TenantRow(ResidencyReport(in), "t-emea").at("resident").as_bool())
      << "a partition not placed yet is not vouched for";
}

TEST(ResidencyReportTest, EmbeddedListsTheOneNode) {
  ResidencyInput in = TwoRegions();
  in.cluster.reset();
  in.node = "embedded";
  json::object r = ResidencyReport(in);
  EXPECT_EQ(r.at("mode").as_string(), "embedded");
  const auto& nodes = TenantRow(r, "t-emea").at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].at("node").as_string(), "embedded");
  EXPECT_EQ(nodes[0].at("role").as_string(), "primary");
}

}  // namespace
}  // namespace meridian::server
