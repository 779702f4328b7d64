#include "replication/controller.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace meridian::replication {

Controller::Controller(ControllerOptions options, Loop* loop, Transport* transport,
                       ConfigStore* config)
    : options_(std::move(options)),
      loop_(loop),
      transport_(transport),
      config_(config),
      alive_(std::make_shared<bool>(true)) {}

Controller::~Controller() { *alive_ = false; }

void Controller::Start() { Tick(); }

void Controller::Tick() {
  std::weak_ptr<bool> alive = alive_;
  auto again = [this, alive] {
    loop_->PostAfter(options_.poll_ms, [this, alive] {
      if (!alive.expired()) Tick();
    });
  };
  if (options_.elected && !options_.elected()) {
    again();
    return;
  }
  config_->LiveNodes([this, alive, again](Result<std::vector<proto::NodeInfo>> nodes) {
    if (alive.expired()) return;
    if (!nodes.ok()) return loop_->Post(again);
    config_->ListPartitions([this, alive, again, nodes = std::move(*nodes)](
                                Result<std::vector<VersionedConfig>> configs) {
      if (alive.expired()) return;
      loop_->Post([this, alive, again, nodes, configs = std::move(configs)] {
        if (alive.expired()) return;
        if (configs.ok()) {
          NodeMap live;
          for (const auto& n : nodes) live[n.id()] = n;
          Decide(*configs, live);
        }
        again();
      });
    });
  });
}

void Controller::Decide(const std::vector<VersionedConfig>& configs, const NodeMap& live) {
  std::set<std::string> configured;
  for (const auto& vc : configs) {
    configured.insert(vc.config.partition());
    if (!live.count(vc.config.primary())) Failover(vc, live);
  }
  std::set<std::string> live_now;
  for (const auto& [id, n] : live) live_now.insert(id);
  if (live_now != last_live_) {
    last_live_ = live_now;
    live_since_ms_ = loop_->NowMillis();
  }
  if (loop_->NowMillis() - live_since_ms_ < options_.placement_settle_ms) return;
  for (const auto& spec : options_.partitions) {
    if (configured.count(spec.id) || busy_.count(spec.id)) continue;
    Place(spec, live);
  }
}

// A first placement. Its primary is the node whose copy of the partition reaches furthest: a
// data directory of the embedded default that joins a cluster keeps its data and is copied from.
void Controller::Place(const PartitionSpec& spec, const NodeMap& live) {
  std::vector<std::string> candidates;
  for (const auto& [id, n] : live) {
    if (MayHold(n, spec.region)) candidates.push_back(id);
  }
  if (InitialPlacement(spec.id, spec.region, live, "", 0, options_.sync_members).status().code() ==
      Code::kFailedPrecondition) {
    return;  // the region does not have the nodes yet
  }
  busy_.insert(spec.id);
  Gather(spec.id, candidates, [this, spec, live](const std::vector<proto::ReplicaStatus>& all) {
    std::string preferred;
    uint64_t best = 0;
    for (const auto& s : all) {
      // Ties go to the lowest id, so that a new cluster starts with its primaries together.
      if (preferred.empty() || s.log_end() > best || (s.log_end() == best && s.node() < preferred)) {
        preferred = s.node();
        best = s.log_end();
      }
    }
    auto placed = InitialPlacement(spec.id, spec.region, live, preferred, 0, options_.sync_members);
    if (!placed.ok() || preferred.empty()) {
      busy_.erase(spec.id);
      return;
    }
    config_->CompareAndSwap(spec.id, 0, *placed,
                            [this, alive = std::weak_ptr<bool>(alive_), spec](Result<int64_t> r) {
                              if (alive.expired()) return;
                              loop_->Post([this, alive, spec, r] {
                                if (alive.expired()) return;
                                busy_.erase(spec.id);
                                if (r.ok()) spdlog::info("partition {} placed", spec.id);
                              });
                            });
  });
}

// Asks each of `nodes` for its replica of `partition`, then calls `done` on the loop with the
// answers that came.
void Controller::Gather(const std::string& partition, const std::vector<std::string>& nodes,
                        std::function<void(const std::vector<proto::ReplicaStatus>&)> done) {
  struct State {
    size_t waiting;
    std::vector<proto::ReplicaStatus> answers;
    std::function<void(const std::vector<proto::ReplicaStatus>&)> done;
  };
  auto state = std::make_shared<State>(State{nodes.size(), {}, std::move(done)});
  if (nodes.empty()) return state->done(state->answers);
  std::weak_ptr<bool> alive = alive_;
  for (const auto& node : nodes) {
    proto::ReplicaStatusRequest req;
    req.set_partition(partition);
    transport_->Status(node, req, [this, alive, state](Result<proto::ReplicaStatus> r) {
      if (alive.expired()) return;
      loop_->Post([alive, state, r = std::move(r)] {
        if (alive.expired()) return;
        if (r.ok()) state->answers.push_back(*r);
        if (--state->waiting == 0) state->done(state->answers);
      });
    });
  }
}

void Controller::Failover(const VersionedConfig& vc, const NodeMap& live) {
  const auto& c = vc.config;
  if (busy_.count(c.partition())) return;
  std::vector<std::string> candidates;
  for (const auto& s : c.sync()) {
    if (live.count(s)) candidates.push_back(s);
  }
  if (candidates.empty()) {
    if (stalled_.insert(c.partition()).second) {
      spdlog::error(
          "partition {}: primary {} is down and no member of its sync set is live: writes stop "
          "until one returns (promoting another node could lose acknowledged writes)",
          c.partition(), c.primary());
    }
    return;
  }
  stalled_.erase(c.partition());
  busy_.insert(c.partition());
  // Ask every live sync member where its log ends, then promote the one furthest ahead.
  Gather(c.partition(), candidates, [this, vc, live](const std::vector<proto::ReplicaStatus>& all) {
    Promote(vc, live, all);
  });
}

void Controller::Promote(const VersionedConfig& vc, const NodeMap& live,
                         const std::vector<proto::ReplicaStatus>& statuses) {
  const auto& c = vc.config;
  const proto::ReplicaStatus* best = nullptr;
  for (const auto& s : statuses) {
    if (s.epoch() > c.epoch()) continue;  // a newer configuration exists; the CAS would fail
    if (!best || std::make_pair(s.log_end_epoch(), s.log_end()) >
                     std::make_pair(best->log_end_epoch(), best->log_end())) {
      best = &s;
    }
  }
  if (!best) {
    busy_.erase(c.partition());
    return;
  }
  proto::PartitionConfig next = c;
  next.set_epoch(c.epoch() + 1);
  next.set_primary(best->node());
  next.clear_sync();
  next.clear_candidates();
  // Only old sync members stay sync (each holds every acknowledged write); the old primary and
  // dead sync members must catch up as candidates before they count again.
  for (const auto& s : c.sync()) {
    if (s == best->node()) continue;
    if (live.count(s)) {
      next.add_sync(s);
    } else {
      next.add_candidates(s);
    }
  }
  next.add_candidates(c.primary());
  for (const auto& s : c.candidates()) next.add_candidates(s);
  std::string partition = c.partition();
  spdlog::warn("partition {}: primary {} is down; promoting {} (log end {}) at epoch {}",
               partition, c.primary(), best->node(), best->log_end(), next.epoch());
  config_->CompareAndSwap(
      partition, vc.revision, next,
      [this, alive = std::weak_ptr<bool>(alive_), partition](Result<int64_t> r) {
        if (alive.expired()) return;
        loop_->Post([this, alive, partition, r] {
          if (alive.expired()) return;
          busy_.erase(partition);
          if (r.ok()) {
            failovers_.fetch_add(1);
          } else {
            spdlog::info("partition {}: failover lost its compare-and-swap: {}", partition,
                         r.status().ToString());
          }
        });
      });
}

}  // namespace meridian::replication
