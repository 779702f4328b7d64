#include "replication/placement.h"

#include <gtest/gtest.h>

namespace meridian::replication {
namespace {

NodeMap Nodes() {
  NodeMap m;
  auto add = [&](const char* id, const char* region, const char* dc) {
    proto::NodeInfo n;
    n.set_id(id);
    n.set_region(region);
    n.set_datacenter(dc);
    m[id] = n;
  };
  add("a1", "emea", "ams");
  add("a2", "emea", "ams");
  add("d1", "emea", "dub");
  add("u1", "na", "iad");
  add("u2", "na", "iad");
  return m;
}

proto::PartitionConfig Config(const char* primary, std::vector<const char*> sync,
                              std::vector<const char*> secondaries = {}) {
  proto::PartitionConfig c;
  c.set_partition("emea-1");
  c.set_region("emea");
  c.set_primary(primary);
  for (auto* s : sync) c.add_sync(s);
  for (auto* s : secondaries) c.add_secondaries(s);
  return c;
}

TEST(PlacementTest, AcceptsAPrimaryWithASyncMemberInAnotherDatacenterOfItsRegion) {
  EXPECT_TRUE(CheckPlacement(Config("a1", {"d1"}, {"a2"}), Nodes()).ok());
}

TEST(PlacementTest, RefusesASyncSetInThePrimarysDatacenterOnly) {
  Status s = CheckPlacement(Config("a1", {"a2"}), Nodes());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("another datacenter"), std::string::npos) << s.message();
}

TEST(PlacementTest, RefusesAMemberOutsideThePartitionsRegion) {
  Status s = CheckPlacement(Config("a1", {"d1"}, {"u1"}), Nodes());
  EXPECT_EQ(s.code(), Code::kFailedPrecondition);
  EXPECT_NE(s.message().find("u1 is in region na"), std::string::npos) << s.message();
}

TEST(PlacementTest, RefusesUnknownAndRepeatedNodes) {
  EXPECT_FALSE(CheckPlacement(Config("a1", {"d1"}, {"zz"}), Nodes()).ok());
  EXPECT_FALSE(CheckPlacement(Config("a1", {"d1"}, {"d1"}), Nodes()).ok());
  EXPECT_FALSE(CheckPlacement(Config("", {"d1"}), Nodes()).ok());
}

TEST(PlacementTest, InitialPlacementStaysInItsRegionAndSpansTwoDatacenters) {
  auto c = InitialPlacement("emea-1", "emea", Nodes(), "a2");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->primary(), "a2");
  ASSERT_EQ(c->sync_size(), 1);
  EXPECT_EQ(c->sync(0), "d1");
  EXPECT_EQ(c->secondaries_size(), 1);
  EXPECT_EQ(c->epoch(), 1u);
}

TEST(PlacementTest, InitialPlacementRefusesARegionInOneDatacenter) {
  auto c = InitialPlacement("na-1", "na", Nodes(), "");
  EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace meridian::replication
