// Simulation: the replication protocol and the controller, on several nodes in one process,
// under virtual time and a seeded scheduler, with faults injected from the seed.
//
// Every node runs the real Replica and Controller over a MemStore. The network delivers each
// message after a seeded delay, or drops it, or cannot reach a peer cut off from it (one way or
// both); a node can crash (losing what it had not synced) and restart, freeze (as under SIGSTOP)
// and thaw, or lose its lease in the configuration store while it keeps running; a whole
// datacenter can go down. Clients write with Propose and read back with replica tokens, and the
// history they record is checked (see Report). The same seed gives the same schedule, event for
// event, so a failing seed replays exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::replication::sim {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 5;             // spread over `datacenters`, round-robin
  int datacenters = 3;
  int clients = 4;
  int64_t run_ms = 3000;     // clients and faults
  int64_t settle_ms = 4000;  // faults healed, everyone up: replicas must converge
  bool faults = true;
  // Per-message drop probability while faults run, and the mean gap between faults.
  double drop = 0.02;
  int64_t fault_gap_ms = 300;
  uint64_t log_retention = 40;  // small, so that checkpoints are exercised
  bool verbose = false;         // log every fault
};

struct Report {
  uint64_t seed = 0;
  uint64_t writes_acknowledged = 0;
  uint64_t writes_failed = 0;  // refused, or outcome unknown
  uint64_t token_reads = 0;
  uint64_t reads = 0;
  uint64_t faults = 0;
  uint64_t failovers = 0;
  uint64_t checkpoints = 0;
  uint64_t events = 0;
  std::vector<std::string> violations;
  std::string Summary() const;
};

Report Run(const SimOptions& options);

}  // namespace meridian::replication::sim
