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
  for (const auto& spec : options_.partitions) {
    if (configured.count(spec.id) || busy_.count(spec.id)) continue;
    auto placed = InitialPlacement(spec.id, spec.region, live, "", 0, options_.sync_members);
    if (!placed.ok()) continue;  // the region does not have the nodes yet
    busy_.insert(spec.id);
    config_->CompareAndSwap(spec.id, 0, *placed,
                            [this, alive = std::weak_ptr<bool>(alive_), spec](Result<int64_t> r) {
                              if (alive.expired()) return;
                              loop_->Post([this, alive, spec, r] {
                                if (alive.expired()) return;
                                busy_.erase(spec.id);
                                if (r.ok()) spdlog::info("partition {} placed", spec.id);
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
  struct Gather {
    size_t waiting;
    std::vector<proto::ReplicaStatus> answers;
  };
  auto gather = std::make_shared<Gather>(Gather{candidates.size(), {}});
  std::weak_ptr<bool> alive = alive_;
  for (const auto& node : candidates) {
    proto::ReplicaStatusRequest req;
    req.set_partition(c.partition());
    transport_->Status(node, req, [this, alive, gather, vc, live](Result<proto::ReplicaStatus> r) {
      if (alive.expired()) return;
      loop_->Post([this, alive, gather, vc, live, r = std::move(r)] {
        if (alive.expired()) return;
        if (r.ok()) gather->answers.push_back(*r);
        if (--gather->waiting == 0) Promote(vc, live, gather->answers);
      });
    });
  }
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
