// The replication protocol and controller under the deterministic simulation (sim/): many seeded
// schedules of crashes, freezes, cut links, lost leases and lost datacenters, each checked for
// lost acknowledged writes, two primaries in one epoch, token reads that miss their write, reads
// of writes later lost, and replicas that do not converge.
//
// MERIDIAN_SIM_SCHEDULES=N runs N schedules (the long form); MERIDIAN_SIM_SEED=S replays one.
#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "replication/sim/simulation.h"

namespace meridian::replication::sim {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
};

TEST_F(SimTest, WithoutFaultsEveryWriteIsAcknowledgedAndReplicasConverge) {
  SimOptions o;
  o.faults = false;
  Report r = sim::Run(o);
  EXPECT_TRUE(r.violations.empty()) << r.Summary();
  EXPECT_GT(r.writes_acknowledged, 200u) << r.Summary();
  // A client's first write may go to a node that is not the primary; it then learns which is.
  EXPECT_LE(r.writes_failed, static_cast<uint64_t>(o.clients)) << r.Summary();
  EXPECT_GT(r.token_reads, 100u) << r.Summary();
}

TEST_F(SimTest, ASeedReplaysExactly) {
  SimOptions o;
  o.seed = 42;
  Report a = sim::Run(o), b = sim::Run(o);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.writes_acknowledged, b.writes_acknowledged);
  EXPECT_EQ(a.faults, b.faults);
  EXPECT_EQ(a.Summary(), b.Summary());
}

TEST_F(SimTest, SeededFaultSchedulesLoseNothing) {
  uint64_t only = EnvOr("MERIDIAN_SIM_SEED", 0);
  uint64_t schedules = only ? 1 : EnvOr("MERIDIAN_SIM_SCHEDULES", 2000);
  Report total;
  uint64_t failing = 0;
  for (uint64_t i = 0; i < schedules; ++i) {
    SimOptions o;
    o.seed = only ? only : 1000 + i;
    o.verbose = only != 0;
    if (o.verbose) {
      spdlog::set_level(spdlog::level::debug);
      spdlog::set_pattern("%v");
    }
    Report r = sim::Run(o);
    total.writes_acknowledged += r.writes_acknowledged;
    total.writes_failed += r.writes_failed;
    total.token_reads += r.token_reads;
    total.reads += r.reads;
    total.faults += r.faults;
    total.failovers += r.failovers;
    total.checkpoints += r.checkpoints;
    total.events += r.events;
    if (!r.violations.empty()) {
      ++failing;
      ADD_FAILURE() << r.Summary() << "\nreplay: MERIDIAN_SIM_SEED=" << o.seed
                    << " ./replication_sim_test";
      if (failing >= 5) break;
    }
  }
  total.seed = 0;
  printf("%llu schedules: %s\n", static_cast<unsigned long long>(schedules),
         total.Summary().c_str());
  EXPECT_GT(total.failovers, 0u);
  EXPECT_GT(total.checkpoints, 0u);
}

}  // namespace
}  // namespace meridian::replication::sim
