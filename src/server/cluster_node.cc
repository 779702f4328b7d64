#include "server/cluster_node.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <thread>
#include <toml.hpp>

#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"
#include "directory/directory.h"
#include "directory/regions.h"
#include "http/metrics.h"
#include "replication/controller.h"
#include "replication/partition_replica_store.h"
#include "replication/placement.h"
#include "replication/thread_loop.h"
#include "rpc/cluster_certs.h"
#include "rpc/grpc_transport.h"

namespace meridian::server {
namespace {

using replication::Replica;
using replication::Role;

// A secondary silent this long (no append from its primary, which sends one every 50 ms; a
// failover takes about the 2 s lease) counts as cut off: not ready, and not read from.
constexpr int64_t kSilentMs = 5000;
// Every node asks each live peer for its /readyz this often, over the node-to-node channel; a
// peer that answered not ready, or has not answered ready for kPeerReadyMs, gets no reads.
constexpr int64_t kProbeEveryMs = 500;
constexpr int64_t kPeerReadyMs = 2000;

// The partitions a cluster of `cloud` holds: every region's, and the global one.
std::vector<replication::PartitionSpec> ClusterPartitions(const std::string& cloud, int per_region) {
  std::vector<replication::PartitionSpec> out{{"global", replication::kGlobalRegion}};
  for (directory::Region r : directory::CloudRegions(cloud)) {
    for (int i = 1; i <= per_region; ++i) {
      std::string code(directory::RegionCode(r));
      out.push_back({code + "-" + std::to_string(i), code});
    }
  }
  return out;
}

}  // namespace

struct ClusterNode::Impl {
  ClusterOptions options;
  directory::Directory* directory = nullptr;
  Serve serve;
  std::unique_ptr<cluster::EtcdClient> etcd;
  std::unique_ptr<cluster::EtcdConfigStore> config;
  std::unique_ptr<replication::ThreadLoop> loop;
  // Where the request path continues off the replication loop: a write's outcome, a gateway's
  // timers and waits. Its own thread, so that nothing a request does can delay replication.
  std::unique_ptr<replication::ThreadLoop> completions;
  // Writes not yet answered, oldest first, so that one sweep times them out (see WriteHook).
  struct PendingWrite {
    std::atomic<bool> answered{false};
    store::Partition::WriteDone done;
    void Answer(Result<store::Partition::Ack> ack) {
      if (answered.exchange(true)) return;
      auto d = std::move(done);
      d(std::move(ack));
    }
  };
  std::mutex pending_mu;
  std::deque<std::pair<int64_t, std::weak_ptr<PendingWrite>>> pending;  // (deadline, write)
  std::unique_ptr<rpc::GrpcTransport> transport;
  std::map<std::string, std::unique_ptr<replication::PartitionReplicaStore>> stores;
  std::map<std::string, std::unique_ptr<Replica>> replicas;
  std::unique_ptr<rpc::GrpcServer> server;
  std::unique_ptr<cluster::NodeRegistration> registration;
  std::unique_ptr<replication::Controller> controller;
  // The controller election: a key under this node's lease, taken when absent.
  std::atomic<bool> elected{false};
  std::thread election;
  std::mutex election_mu;
  std::condition_variable election_cv;
  bool election_stop = false;  // guarded by election_mu
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  mutable std::mutex mu;
  std::map<std::string, replication::VersionedConfig> configs;  // guarded by mu
  replication::NodeMap nodes;                                   // guarded by mu
  std::string token_key;                                        // guarded by mu
  // What the probes of each peer found (see kProbeEveryMs); guarded by mu.
  struct PeerHealth {
    int64_t last_ready_ms = 0;  // the last answer "ready" (or when the peer was first seen)
    bool ready = true;          // the last answer
    bool probing = false;       // a probe is in flight
    uint64_t forwarded = 0;     // requests this node forwarded to the peer
  };
  std::map<std::string, PeerHealth> peers;
  bool stopped = false;                                         // guarded by mu

  Replica* ReplicaOf(const std::string& partition) const {
    auto it = replicas.find(partition);
    return it == replicas.end() ? nullptr : it->second.get();
  }
  // Refreshes the view of configurations and nodes that routing reads, and the transport's
  // address book.
  void Refresh();
  void Campaign();
  // A partition's write hook: proposes `build` on `r` and answers `done` on the completions
  // thread, with the commit, the replica's refusal, or kUnavailable once
  // options.write_timeout_ms has passed (the outcome then unknown: the write may still commit).
  void ProposeOn(Replica* r, const store::Partition::Builder& build,
                 store::Partition::WriteDone done);
  // Answers the pending writes past their deadline; runs every 100 ms on completions.
  void SweepPending();
  // Asks every live peer for its /readyz (one probe in flight per peer); runs every
  // kProbeEveryMs on completions.
  void ProbePeers();
  // Whether reads may go to `node`, by its probes. Requires mu.
  bool PeerReady(const std::string& node) const;
  // Calls `then` on completions once `r` has applied `lsn` and is readable, or at `deadline`.
  void PollVisible(Replica* r, uint64_t lsn, int64_t deadline, std::function<void()> then);
};

void ClusterNode::Impl::ProposeOn(Replica* r, const store::Partition::Builder& build,
                                  store::Partition::WriteDone done) {
  // Allocated apart from its control block, which the sweep's weak reference keeps alive.
  std::shared_ptr<PendingWrite> w(new PendingWrite);
  w->done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(pending_mu);
    pending.emplace_back(completions->NowMillis() + options.write_timeout_ms, w);
  }
  replication::ThreadLoop* c = completions.get();
  r->Propose(build, [w, c](Result<replication::Commit> commit) {
    c->Post([w, commit = std::move(commit)] {
      if (!commit.ok()) return w->Answer(commit.status());
      w->Answer(store::Partition::Ack{commit->lsn, commit->epoch});
    });
  });
}

void ClusterNode::Impl::SweepPending() {
  int64_t now = completions->NowMillis();
  std::vector<std::shared_ptr<PendingWrite>> expired;
  {
    std::lock_guard<std::mutex> lock(pending_mu);
    while (!pending.empty() && pending.front().first <= now) {
      if (auto w = pending.front().second.lock()) expired.push_back(std::move(w));
      pending.pop_front();
    }
  }
  for (auto& w : expired) {
    w->Answer(meridian::Status(Code::kUnavailable, "the write did not commit within " +
                                                       std::to_string(options.write_timeout_ms) +
                                                       " ms; its outcome is unknown"));
  }
  completions->PostAfter(100, [this] { SweepPending(); });
}

void ClusterNode::Impl::ProbePeers() {
  std::vector<std::string> due;
  int64_t now = completions->NowMillis();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return;
    for (const auto& [id, info] : nodes) {
      if (id == options.node) continue;
      PeerHealth& h = peers[id];
      if (h.last_ready_ms == 0) h.last_ready_ms = now;  // first seen: ready until it says not
      if (!h.probing) {
        h.probing = true;
        due.push_back(id);
      }
    }
  }
  proto::ForwardRequest probe;
  probe.set_method("GET");
  probe.set_target("/readyz");
  probe.set_client_address("probe");
  for (const std::string& id : due) {
    transport->Forward(
        id, probe, [this, id, weak = std::weak_ptr<bool>(alive)](Result<proto::ForwardResponse> r) {
          if (weak.expired()) return;
          bool ready = r.ok() && r->status() == 200;
          std::lock_guard<std::mutex> lock(mu);
          PeerHealth& h = peers[id];
          h.probing = false;
          if (ready && !h.ready) spdlog::info("node {} is ready again: reads go to it", id);
          if (!ready && h.ready) {
            spdlog::warn("node {} is not ready ({}): no reads go to it", id,
                         r.ok() ? r->body() : r.status().message());
          }
          h.ready = ready;
          if (ready) h.last_ready_ms = completions->NowMillis();
        });
  }
  completions->PostAfter(kProbeEveryMs, [this] { ProbePeers(); });
}

bool ClusterNode::Impl::PeerReady(const std::string& node) const {
  auto it = peers.find(node);
  if (it == peers.end() || it->second.last_ready_ms == 0) return true;  // not probed yet
  return it->second.ready && completions->NowMillis() - it->second.last_ready_ms <= kPeerReadyMs;
}

void ClusterNode::Impl::PollVisible(Replica* r, uint64_t lsn, int64_t deadline,
                                    std::function<void()> then) {
  if ((r->readable() && r->visible_lsn() >= lsn) || completions->NowMillis() >= deadline) {
    return then();
  }
  completions->PostAfter(2, [this, r, lsn, deadline, then = std::move(then)]() mutable {
    PollVisible(r, lsn, deadline, std::move(then));
  });
}

void ClusterNode::Impl::Campaign() {
  const std::string key = "/meridian/" + options.cluster + "/controller";
  std::unique_lock<std::mutex> lock(election_mu);
  while (!election_stop) {
    lock.unlock();
    int64_t lease = registration->lease();
    bool now = false;
    if (lease != 0) {
      auto current = etcd->Get(key);
      if (current.ok() && !*current) {
        now = etcd->CompareAndSwap(key, 0, options.node, lease).ok();
      } else if (current.ok()) {
        now = (*current)->value == options.node && (*current)->lease == lease;
      }
    }
    if (now != elected.load()) {
      spdlog::info("node {} {} the controller", options.node, now ? "is now" : "is no longer");
    }
    elected.store(now);
    lock.lock();
    election_cv.wait_for(lock, std::chrono::milliseconds(500), [this] { return election_stop; });
  }
}

void ClusterNode::Impl::Refresh() {
  std::weak_ptr<bool> weak = alive;
  // These callbacks run on the etcd store's thread; `stopped` (under mu) tells them the node is
  // going away.
  config->LiveNodes([this, weak](Result<std::vector<proto::NodeInfo>> nodes_now) {
    if (weak.expired() || !nodes_now.ok()) return;
    std::lock_guard<std::mutex> lock(mu);
    if (stopped) return;
    replication::NodeMap m;
    for (const auto& n : *nodes_now) {
      m[n.id()] = n;
      // Itself included: its controller asks its own replicas where their logs end.
      transport->SetPeerAddress(n.id(), n.peer_address());
    }
    nodes = std::move(m);
  });
  config->ListPartitions([this, weak](Result<std::vector<replication::VersionedConfig>> all) {
    if (weak.expired() || !all.ok()) return;
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& vc : *all) configs[vc.config.partition()] = vc;
  });
  loop->PostAfter(200, [this, weak] {
    if (!weak.expired()) Refresh();
  });
}

ClusterNode::ClusterNode(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), options_(impl_->options) {}

ClusterNode::~ClusterNode() {
  // Peers stop reaching us and the loop stops running replica code; then what may still post
  // onto the loop (the transport's and etcd's callbacks) goes; then the replicas and the loop.
  if (impl_->server) impl_->server->Shutdown();
  if (impl_->election.joinable()) {
    {
      std::lock_guard<std::mutex> lock(impl_->election_mu);
      impl_->election_stop = true;
    }
    impl_->election_cv.notify_all();
    impl_->election.join();
  }
  impl_->registration.reset();
  *impl_->alive = false;
  if (impl_->loop) impl_->loop->Stop();
  if (impl_->completions) impl_->completions->Stop();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopped = true;
  }
  for (auto& [id, p] : impl_->directory->Partitions()) p->SetWriteHook(nullptr);
  impl_->transport.reset();
  impl_->config.reset();
  impl_->controller.reset();
  impl_->replicas.clear();
  impl_->stores.clear();
  impl_->loop.reset();
  impl_->completions.reset();
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::Start(ClusterOptions options,
                                                        directory::Directory* directory,
                                                        Serve serve) {
  if (options.node.empty() || options.region.empty() || options.datacenter.empty()) {
    return InvalidArgument("a cluster node needs a node id, a region and a datacenter");
  }
  if (options.etcd.empty()) return InvalidArgument("a cluster node needs etcd endpoints");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->directory = directory;
  impl->serve = std::move(serve);

  cluster::EtcdOptions eo;
  eo.endpoints = options.etcd;
  MERIDIAN_ASSIGN_OR_RETURN(impl->etcd, cluster::EtcdClient::Create(eo));
  impl->config = std::make_unique<cluster::EtcdConfigStore>(impl->etcd.get(), options.cluster);
  impl->loop = std::make_unique<replication::ThreadLoop>();
  impl->completions = std::make_unique<replication::ThreadLoop>();
  MERIDIAN_ASSIGN_OR_RETURN(rpc::NodeCredentials creds,
                            rpc::LoadNodeCredentials(options.certs_dir, options.node));
  rpc::GrpcTransportOptions to;
  to.credentials = creds;
  to.call_timeout = std::chrono::milliseconds(2000);
  impl->transport = std::make_unique<rpc::GrpcTransport>(to);

  Impl* raw = impl.get();
  for (auto& [id, partition] : directory->Partitions()) {
    auto store = std::make_unique<replication::PartitionReplicaStore>(partition);
    replication::ReplicaOptions ro;
    ro.node = options.node;
    ro.partition = id;
    auto replica = std::make_unique<Replica>(ro, store.get(), impl->loop.get(),
                                             impl->transport.get(), impl->config.get());
    Replica* r = replica.get();
    partition->SetWriteHook(
        [raw, r](const store::Partition::Builder& build, store::Partition::WriteDone done) {
          raw->ProposeOn(r, build, std::move(done));
        });
    impl->stores[id] = std::move(store);
    impl->replicas[id] = std::move(replica);
  }

  rpc::GrpcServerOptions so;
  so.listen_address = options.peer_listen;
  so.credentials = creds;
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(impl)));
  MERIDIAN_ASSIGN_OR_RETURN(raw->server, rpc::GrpcServer::Start(so, node.get()));
  if (raw->options.peer_advertise.empty()) {
    std::string host = options.peer_listen.substr(0, options.peer_listen.rfind(':'));
    raw->options.peer_advertise = host + ":" + std::to_string(raw->server->port());
  }
  proto::NodeInfo info;
  info.set_id(options.node);
  info.set_cloud(options.cloud);
  info.set_region(options.region);
  info.set_datacenter(options.datacenter);
  info.set_peer_address(raw->options.peer_advertise);
  info.set_http_address(options.http_advertise);
  MERIDIAN_ASSIGN_OR_RETURN(
      raw->registration,
      cluster::NodeRegistration::Start(raw->etcd.get(), options.cluster, info,
                                       std::chrono::seconds(options.lease_ttl_seconds)));
  replication::ControllerOptions co;
  co.node = options.node;
  co.partitions = ClusterPartitions(options.cloud, options.partitions_per_region);
  co.sync_members = options.sync_members;
  co.placement_settle_ms = 2000;
  co.elected = [raw] { return raw->elected.load(); };
  raw->controller = std::make_unique<replication::Controller>(co, raw->loop.get(),
                                                              raw->transport.get(),
                                                              raw->config.get());
  raw->election = std::thread([raw] { raw->Campaign(); });
  raw->completions->Post([raw] {
    raw->SweepPending();
    raw->ProbePeers();
  });
  raw->loop->Post([raw] {
    raw->Refresh();
    for (auto& [id, r] : raw->replicas) r->Start();
    raw->controller->Start();
  });
  spdlog::info("cluster {}: node {} ({} / {}) peers on {}, holding {} partitions",
               options.cluster, options.node, options.region, options.datacenter,
               raw->options.peer_advertise, raw->replicas.size());
  return node;
}

Destination ClusterNode::WriteDestination(const std::string& partition) const {
  Replica* r = impl_->ReplicaOf(partition);
  if (r && r->accepting_writes()) return Destination{};
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto it = impl_->configs.find(partition);
  Destination d;
  d.local = false;
  if (it == impl_->configs.end()) {
    d.unavailable = true;
    d.why = "partition " + partition + " is not placed yet";
    return d;
  }
  const auto& primary = it->second.config.primary();
  if (primary == options_.node || !impl_->nodes.count(primary)) {
    d.unavailable = true;
    d.why = "partition " + partition + " has no primary taking writes at the moment";
    return d;
  }
  d.node = primary;
  return d;
}

Destination ClusterNode::ReadDestination(const std::string& partition, uint64_t min_lsn) const {
  Replica* r = impl_->ReplicaOf(partition);
  // A secondary that has heard nothing from its primary for a while may be cut off: what it
  // shows (a user still enabled, a secret not yet revoked) may be long stale.
  bool current = r && (r->role() == Role::kPrimary ||
                       impl_->loop->NowMillis() - r->last_heard_ms() <= kSilentMs);
  if (r && current && r->readable() && r->visible_lsn() >= min_lsn && r->role() != Role::kNone &&
      r->role() != Role::kCandidate) {
    return Destination{};
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  Destination d;
  d.local = false;
  auto it = impl_->configs.find(partition);
  if (it == impl_->configs.end()) {
    d.unavailable = true;
    d.why = "partition " + partition + " is not placed yet";
    return d;
  }
  const auto& c = it->second.config;
  auto live = [&](const std::string& n) { return n != options_.node && impl_->nodes.count(n); };
  // Reads go to a member only while its probes say it is ready; the primary, the last resort,
  // is tried whatever they say (it may be unready for another partition's sake).
  auto serves = [&](const std::string& n) { return live(n) && impl_->PeerReady(n); };
  // A token names an LSN only the primary is sure to hold; otherwise the nearest member.
  if (min_lsn == 0) {
    std::vector<std::string> members(c.sync().begin(), c.sync().end());
    members.insert(members.end(), c.secondaries().begin(), c.secondaries().end());
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& m : members) {
        if (!serves(m)) continue;
        bool same_dc = impl_->nodes.at(m).datacenter() == options_.datacenter;
        if (pass == 1 || same_dc) {
          d.node = m;
          return d;
        }
      }
    }
  }
  if (live(c.primary())) {
    d.node = c.primary();
    return d;
  }
  d.unavailable = true;
  d.why = "no replica of partition " + partition + " can serve this read at the moment";
  return d;
}

void ClusterNode::WhenVisible(const std::string& partition, uint64_t lsn, int64_t timeout_ms,
                              std::function<void()> then) const {
  Replica* r = impl_->ReplicaOf(partition);
  if (!r || (r->readable() && r->visible_lsn() >= lsn)) return then();
  impl_->completions->Post([impl = impl_.get(), r, lsn, timeout_ms, then = std::move(then)] {
    impl->PollVisible(r, lsn, impl->completions->NowMillis() + timeout_ms, then);
  });
}

void ClusterNode::After(int64_t delay_ms, std::function<void()> fn) const {
  impl_->completions->PostAfter(delay_ms, std::move(fn));
}

Result<int64_t> ClusterNode::MovePrimary(const std::string& partition, const std::string& target,
                                        int64_t timeout_ms) {
  Replica* r = impl_->ReplicaOf(partition);
  if (!r) return meridian::Status(Code::kNotFound, "no partition " + partition + " on this node");
  auto promise = std::make_shared<std::promise<meridian::Status>>();
  auto future = promise->get_future();
  auto start = std::chrono::steady_clock::now();
  impl_->loop->Post([r, target, timeout_ms, promise] {
    r->TransferPrimary(target, timeout_ms,
                       [promise](meridian::Status s) { promise->set_value(std::move(s)); });
  });
  if (future.wait_for(std::chrono::milliseconds(timeout_ms + 5000)) != std::future_status::ready) {
    return meridian::Status(Code::kUnavailable, "the transfer did not finish in time");
  }
  MERIDIAN_RETURN_IF_ERROR(future.get());
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

void ClusterNode::ForwardTo(const std::string& node, const proto::ForwardRequest& request,
                            replication::Reply<proto::ForwardResponse> reply) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    ++impl_->peers[node].forwarded;
  }
  impl_->transport->Forward(node, request, std::move(reply));
}

void ClusterNode::SetTokenKey(std::string key) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->token_key = std::move(key);
}

std::string ClusterNode::token_key() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->token_key;
}

ClusterView ClusterNode::View() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return ClusterView{impl_->configs, impl_->nodes};
}

meridian::Status ClusterNode::Ready() const {
  if (!impl_->registration->registered()) {
    return meridian::Status(Code::kUnavailable, "not registered in etcd");
  }
  for (const auto& [id, r] : impl_->replicas) {
    if (r->role() == Role::kNone || r->role() == Role::kCandidate) {
      return meridian::Status(Code::kUnavailable, "partition " + id + ": " + RoleName(r->role()));
    }
    if (!r->readable()) {
      return meridian::Status(Code::kUnavailable, "partition " + id + ": catching up");
    }
    int64_t silent = impl_->loop->NowMillis() - r->last_heard_ms();
    if (r->role() != Role::kPrimary && silent > kSilentMs) {
      return meridian::Status(Code::kUnavailable, "partition " + id + ": no word from its primary for " +
                                                  std::to_string(silent) + " ms");
    }
  }
  return meridian::Status::Ok();
}

void ClusterNode::RegisterMetrics(http::Metrics* metrics) {
  auto per_replica = [this](auto value) {
    return [this, value] {
      std::vector<std::pair<std::string, double>> out;
      for (const auto& [id, r] : impl_->replicas) {
        out.emplace_back("partition=\"" + id + "\",role=\"" + RoleName(r->role()) + "\"",
                         static_cast<double>(value(*r)));
      }
      return out;
    };
  };
  metrics->AddGauge("meridian_replica_epoch", "Configuration epoch of each local replica",
                    per_replica([](const Replica& r) { return r.epoch(); }));
  metrics->AddGauge("meridian_replica_visible_lsn", "LSN through which reads see the partition",
                    per_replica([](const Replica& r) { return r.visible_lsn(); }));
  metrics->AddGauge("meridian_replica_committed_lsn", "Commit point the replica knows",
                    per_replica([](const Replica& r) { return r.committed_lsn(); }));
  metrics->AddGauge("meridian_replica_lag", "Committed entries not yet visible here",
                    per_replica([](const Replica& r) {
                      return r.committed_lsn() - std::min(r.committed_lsn(), r.visible_lsn());
                    }));
  metrics->AddGauge("meridian_replica_accepting_writes", "1 on a primary taking writes",
                    per_replica([](const Replica& r) { return r.accepting_writes() ? 1 : 0; }));
  metrics->AddGauge("meridian_replica_failovers", "Times this replica became primary",
                    per_replica([](const Replica& r) { return r.failovers(); }));
  auto per_peer = [this](auto value) {
    return [this, value] {
      std::vector<std::pair<std::string, double>> out;
      std::lock_guard<std::mutex> lock(impl_->mu);
      for (const auto& [id, h] : impl_->peers) {
        out.emplace_back("node=\"" + id + "\"", static_cast<double>(value(id, h)));
      }
      return out;
    };
  };
  metrics->AddGauge("meridian_peer_ready", "1 while reads may go to the peer, by its /readyz",
                    per_peer([this](const std::string& id, const Impl::PeerHealth&) {
                      return impl_->PeerReady(id) ? 1 : 0;
                    }));
  metrics->AddGauge(
      "meridian_forwarded_requests", "Requests this node forwarded to each peer",
      per_peer([](const std::string&, const Impl::PeerHealth& h) { return h.forwarded; }));
  metrics->AddGauge("meridian_replica_sync_set_size", "Sync members of each partition",
                    [this] {
                      std::vector<std::pair<std::string, double>> out;
                      std::lock_guard<std::mutex> lock(impl_->mu);
                      for (const auto& [id, vc] : impl_->configs) {
                        out.emplace_back("partition=\"" + id + "\"",
                                         static_cast<double>(vc.config.sync_size()));
                      }
                      return out;
                    });
}

void ClusterNode::Append(const proto::AppendRequest& request,
                         std::function<void(proto::AppendResponse)> reply) {
  Replica* r = impl_->ReplicaOf(request.partition());
  if (!r) {
    proto::AppendResponse a;
    a.set_result(proto::AppendResponse::UNAVAILABLE);
    a.set_message("node " + options_.node + " does not hold partition " + request.partition());
    return reply(a);
  }
  impl_->loop->Post([r, request, reply = std::move(reply)] { r->HandleAppend(request, reply); });
}

void ClusterNode::Status(const proto::ReplicaStatusRequest& request,
                         replication::Reply<proto::ReplicaStatus> reply) {
  Replica* r = impl_->ReplicaOf(request.partition());
  if (!r) return reply(meridian::Status(Code::kNotFound, "no such partition here"));
  impl_->loop->Post([r, reply = std::move(reply)] { reply(r->HandleStatus()); });
}

void ClusterNode::FetchCheckpoint(
    const proto::CheckpointRequest& request,
    replication::Reply<std::unique_ptr<replication::CheckpointReader>> reply) {
  Replica* r = impl_->ReplicaOf(request.partition());
  if (!r) return reply(meridian::Status(Code::kNotFound, "no such partition here"));
  impl_->loop->Post([r, request, reply = std::move(reply)]() mutable {
    r->HandleFetchCheckpoint(request, std::move(reply));
  });
}

void ClusterNode::Forward(const proto::ForwardRequest& request,
                          replication::Reply<proto::ForwardResponse> reply) {
  impl_->serve(request, std::move(reply));
}

Result<ClusterOptions> LoadClusterConfig(const std::string& path, std::string* data_dir,
                                         std::string* http_listen) {
  ClusterOptions o;
  std::string key;
  try {
    const auto data = toml::parse(path);
    auto str = [&](const char* k, std::string fallback) {
      key = k;
      return toml::find_or<std::string>(data, k, fallback);
    };
    o.cluster = str("cluster", o.cluster);
    o.node = str("node", "");
    o.cloud = str("cloud", o.cloud);
    o.region = str("region", "");
    o.datacenter = str("datacenter", "");
    o.peer_listen = str("peer_listen", o.peer_listen);
    o.peer_advertise = str("peer_advertise", "");
    o.certs_dir = str("certs", "");
    o.kek_file = str("kek_file", "");
    o.public_url = str("public_url", "");
    *data_dir = str("data_dir", *data_dir);
    *http_listen = str("listen", *http_listen);
    o.http_advertise = str("http_advertise", *http_listen);
    key = "etcd";
    o.etcd = toml::find_or<std::vector<std::string>>(data, "etcd", {});
    key = "lease_ttl_seconds";
    o.lease_ttl_seconds = static_cast<int>(
        toml::find_or<toml::integer>(data, "lease_ttl_seconds", toml::integer(o.lease_ttl_seconds)));
    key = "sync_members";
    o.sync_members = static_cast<size_t>(
        toml::find_or<toml::integer>(data, "sync_members", toml::integer(o.sync_members)));
    key = "partitions_per_region";
    o.partitions_per_region = static_cast<int>(toml::find_or<toml::integer>(
        data, "partitions_per_region", toml::integer(o.partitions_per_region)));
  } catch (const std::exception& e) {
    return InvalidArgument(path + ": " + (key.empty() ? "" : "key '" + key + "': ") + e.what());
  }
  for (const auto& [k, v] : {std::pair<const char*, const std::string*>{"node", &o.node},
                             {"region", &o.region},
                             {"datacenter", &o.datacenter},
                             {"certs", &o.certs_dir},
                             {"public_url", &o.public_url}}) {
    if (v->empty()) return InvalidArgument(path + ": '" + k + "' is required");
  }
  if (o.etcd.empty()) return InvalidArgument(path + ": 'etcd' lists no endpoint");
  if (!directory::ParseRegionCode(o.region).ok()) {
    return InvalidArgument(path + ": unknown region '" + o.region + "'");
  }
  if (o.lease_ttl_seconds < 1 || o.sync_members < 1) {
    return InvalidArgument(path + ": lease_ttl_seconds and sync_members must be at least 1");
  }
  return o;
}

}  // namespace meridian::server
