#include "replication/sim/simulation.h"

#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <sstream>

#include "replication/controller.h"
#include "replication/replica.h"
#include "replication/sim/mem_store.h"

namespace meridian::replication::sim {
namespace {

constexpr char kPartition[] = "p1";
constexpr int64_t kRpcTimeoutMs = 200;
constexpr int64_t kLeaseTtlMs = 600;
constexpr int64_t kLeaseRenewMs = 150;
constexpr int kWorld = -1;  // events of clients and the nemesis, bound to no node

class World;

// One node's Loop: its tasks are events of the world's scheduler, bound to the node's current
// incarnation (a crash drops them) and deferred while the node is frozen.
class NodeLoop final : public Loop {
 public:
  NodeLoop(World* w, int node) : w_(w), node_(node) {}
  int64_t NowMillis() const override;
  void Post(std::function<void()> task) override;
  void PostAfter(int64_t delay_ms, std::function<void()> task) override;
  void Offload(std::function<void()> work, std::function<void()> then) override;

 private:
  World* w_;
  int node_;
};

class NodeTransport final : public Transport {
 public:
  NodeTransport(World* w, int node) : w_(w), node_(node) {}
  void Append(const std::string& to, const proto::AppendRequest& request,
              Reply<proto::AppendResponse> reply) override;
  void Status(const std::string& to, const proto::ReplicaStatusRequest& request,
              Reply<proto::ReplicaStatus> reply) override;
  void FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                       CheckpointWriter* sink, std::function<void(meridian::Status)> done) override;
  void Forward(const std::string&, const proto::ForwardRequest&,
               Reply<proto::ForwardResponse> reply) override {
    reply(meridian::Status(Code::kUnavailable, "no forwarding in the simulation"));
  }

 private:
  World* w_;
  int node_;
};

// One node's view of the shared configuration store: unreachable while the node is cut off.
class NodeConfig final : public ConfigStore {
 public:
  NodeConfig(World* w, int node) : w_(w), node_(node) {}
  void Get(const std::string& partition,
           std::function<void(Result<VersionedConfig>)> done) override;
  void CompareAndSwap(const std::string& partition, int64_t expected_revision,
                      const proto::PartitionConfig& next,
                      std::function<void(Result<int64_t>)> done) override;
  void ListPartitions(std::function<void(Result<std::vector<VersionedConfig>>)> done) override;
  void LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) override;

 private:
  template <typename T>
  void Call(std::function<Result<T>()> op, std::function<void(Result<T>)> done);
  World* w_;
  int node_;
};

struct Node {
  int index = 0;
  proto::NodeInfo info;
  uint64_t incarnation = 0;
  bool up = true;
  int64_t frozen_until = 0;
  int64_t etcd_cut_until = 0;
  MemStore store;
  std::unique_ptr<NodeLoop> loop;
  std::unique_ptr<NodeTransport> transport;
  std::unique_ptr<NodeConfig> config;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<Controller> controller;
};

struct Event {
  int64_t at;
  uint64_t seq;
  int node;
  uint64_t incarnation;
  std::function<void()> fn;
};
struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return a.at != b.at ? a.at > b.at : a.seq > b.seq;
  }
};

// What a client learned about one write.
struct Write {
  std::string key;
  std::string value;
  enum { kPending, kAcked, kFailed, kUnknown } outcome = kPending;
  Commit commit;
  std::string primary;
};

class World {
 public:
  explicit World(const SimOptions& o) : o_(o), rng_(o.seed) {}

  int64_t now() const { return now_; }
  uint64_t Uniform(uint64_t lo, uint64_t hi) {  // [lo, hi]
    return std::uniform_int_distribution<uint64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  void Schedule(int node, int64_t delay, std::function<void()> fn) {
    uint64_t inc = node == kWorld ? 0 : nodes_[node].incarnation;
    ScheduleFor(node, inc, delay, std::move(fn));
  }
  void ScheduleFor(int node, uint64_t incarnation, int64_t delay, std::function<void()> fn) {
    queue_.push(Event{now_ + std::max<int64_t>(0, delay), seq_++, node, incarnation, std::move(fn)});
  }

  int IndexOf(const std::string& id) const {
    for (const auto& n : nodes_) {
      if (n.info.id() == id) return n.index;
    }
    return -1;
  }
  Node& node(int i) { return nodes_[i]; }

  // Whether a message from `a` to `b` is lost now.
  bool Lost(int a, int b) {
    if (cut_.count({a, b})) return true;
    return drop_ > 0 && Chance(drop_);
  }
  int64_t Delay() { return static_cast<int64_t>(Uniform(0, 3)); }

  // A request from node `from` to node `to`, answered exactly once through `reply`: with the
  // handler's answer, or with kUnavailable once the deadline passes.
  template <typename T>
  void Rpc(int from, const std::string& to_id,
           std::function<void(Node&, std::function<void(Result<T>)>)> handle,
           std::function<void(Result<T>)> reply) {
    auto answered = std::make_shared<bool>(false);
    auto finish = [answered, reply](Result<T> r) {
      if (*answered) return;
      *answered = true;
      reply(std::move(r));
    };
    uint64_t from_inc = nodes_[from].incarnation;
    ScheduleFor(from, from_inc, kRpcTimeoutMs, [finish] {
      finish(meridian::Status(Code::kUnavailable, "deadline exceeded"));
    });
    int to = IndexOf(to_id);
    if (to < 0 || Lost(from, to)) return;
    Schedule(to, Delay(), [this, to, from, from_inc, handle, finish] {
      Node& t = nodes_[to];
      if (!t.replica) return;
      handle(t, [this, to, from, from_inc, finish](Result<T> r) {
        if (Lost(to, from)) return;
        ScheduleFor(from, from_inc, Delay(), [finish, r = std::move(r)] { finish(r); });
      });
    });
  }

  // The configuration store, reachable from `node` unless it is cut off (then the call fails
  // after a timeout, as an etcd request would).
  bool EtcdReachable(int node) const {
    return nodes_[node].up && nodes_[node].etcd_cut_until <= now_;
  }

  Report RunAll();

  // Configuration store state.
  std::map<std::string, VersionedConfig> configs_;
  int64_t revision_ = 0;
  std::map<int, int64_t> lease_expiry_;

  const SimOptions o_;
  Report report_;

 private:
  void Boot(int i);
  void Crash(int i);
  void RenewLeases();
  void Nemesis();
  void Heal();
  void ClientStep(int c);
  void TokenRead(const std::shared_ptr<Write>& w, int node, int64_t deadline);
  void Check();
  void Fault(const std::string& what) {
    ++report_.faults;
    if (o_.verbose) fprintf(stderr, "[%lld] %s\n", static_cast<long long>(now_), what.c_str());
  }

  std::mt19937_64 rng_;
  int64_t now_ = 0;
  uint64_t seq_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::vector<Node> nodes_;
  std::set<std::pair<int, int>> cut_;
  double drop_ = 0;
  bool faults_on_ = false;
  std::vector<std::shared_ptr<Write>> writes_;
  std::map<std::string, std::set<std::string>> observed_;  // values some read returned
  std::map<int, int> client_target_;
  size_t sync_members_ = 1;
};

int64_t NodeLoop::NowMillis() const { return w_->now(); }
void NodeLoop::Post(std::function<void()> task) { w_->Schedule(node_, 0, std::move(task)); }
void NodeLoop::PostAfter(int64_t delay_ms, std::function<void()> task) {
  w_->Schedule(node_, delay_ms, std::move(task));
}
void NodeLoop::Offload(std::function<void()> work, std::function<void()> then) {
  // An fsync takes a while; its effect and its completion happen together, later.
  w_->Schedule(node_, static_cast<int64_t>(w_->Uniform(0, 2)),
               [work = std::move(work), then = std::move(then)] {
                 work();
                 then();
               });
}

void NodeTransport::Append(const std::string& to, const proto::AppendRequest& request,
                           Reply<proto::AppendResponse> reply) {
  w_->Rpc<proto::AppendResponse>(
      node_, to,
      [request](Node& t, std::function<void(Result<proto::AppendResponse>)> respond) {
        t.replica->HandleAppend(request, [respond](proto::AppendResponse r) { respond(r); });
      },
      std::move(reply));
}

void NodeTransport::Status(const std::string& to, const proto::ReplicaStatusRequest&,
                           Reply<proto::ReplicaStatus> reply) {
  w_->Rpc<proto::ReplicaStatus>(
      node_, to,
      [](Node& t, std::function<void(Result<proto::ReplicaStatus>)> respond) {
        respond(t.replica->HandleStatus());
      },
      std::move(reply));
}

using Chunks = std::shared_ptr<std::vector<proto::CheckpointChunk>>;

void NodeTransport::FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                                    CheckpointWriter* sink,
                                    std::function<void(meridian::Status)> done) {
  w_->Rpc<Chunks>(
      node_, to,
      [request](Node& t, std::function<void(Result<Chunks>)> respond) {
        t.replica->HandleFetchCheckpoint(
            request, [respond](Result<std::unique_ptr<CheckpointReader>> reader) {
              if (!reader.ok()) return respond(reader.status());
              auto chunks = std::make_shared<std::vector<proto::CheckpointChunk>>();
              proto::CheckpointChunk c;
              while (true) {
                auto more = (*reader)->Next(&c);
                if (!more.ok()) return respond(more.status());
                if (!*more) break;
                chunks->push_back(c);
              }
              respond(chunks);
            });
      },
      [this, sink, done](Result<Chunks> r) {
        if (!r.ok()) return done(r.status());
        ++w_->report_.checkpoints;
        for (const auto& c : **r) {
          meridian::Status s = sink->Add(c);
          if (!s.ok()) return done(s);
        }
        done(meridian::Status::Ok());
      });
}

template <typename T>
void NodeConfig::Call(std::function<Result<T>()> op, std::function<void(Result<T>)> done) {
  if (!w_->EtcdReachable(node_)) {
    w_->Schedule(node_, kRpcTimeoutMs, [done] {
      done(meridian::Status(Code::kUnavailable, "etcd unreachable"));
    });
    return;
  }
  // The store acts when the request arrives; the answer comes back a little later.
  w_->Schedule(kWorld, w_->Delay(), [this, op, done] {
    Result<T> r = op();
    w_->Schedule(node_, w_->Delay(), [done, r] { done(r); });
  });
}

void NodeConfig::Get(const std::string& partition,
                     std::function<void(Result<VersionedConfig>)> done) {
  Call<VersionedConfig>(
      [this, partition]() -> Result<VersionedConfig> {
        auto it = w_->configs_.find(partition);
        return it == w_->configs_.end() ? VersionedConfig{} : it->second;
      },
      std::move(done));
}

void NodeConfig::CompareAndSwap(const std::string& partition, int64_t expected,
                                const proto::PartitionConfig& next,
                                std::function<void(Result<int64_t>)> done) {
  Call<int64_t>(
      [this, partition, expected, next]() -> Result<int64_t> {
        auto it = w_->configs_.find(partition);
        int64_t current = it == w_->configs_.end() ? 0 : it->second.revision;
        if (current != expected) {
          return meridian::Status(Code::kFailedPrecondition, "revision moved");
        }
        w_->configs_[partition] = VersionedConfig{next, ++w_->revision_};
        return w_->revision_;
      },
      std::move(done));
}

void NodeConfig::ListPartitions(std::function<void(Result<std::vector<VersionedConfig>>)> done) {
  Call<std::vector<VersionedConfig>>(
      [this]() -> Result<std::vector<VersionedConfig>> {
        std::vector<VersionedConfig> out;
        for (const auto& [p, vc] : w_->configs_) out.push_back(vc);
        return out;
      },
      std::move(done));
}

void NodeConfig::LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) {
  Call<std::vector<proto::NodeInfo>>(
      [this]() -> Result<std::vector<proto::NodeInfo>> {
        std::vector<proto::NodeInfo> out;
        for (const auto& [i, expiry] : w_->lease_expiry_) {
          if (expiry > w_->now()) out.push_back(w_->node(i).info);
        }
        return out;
      },
      std::move(done));
}

void World::Boot(int i) {
  Node& n = nodes_[i];
  n.up = true;
  // The node's loop, transport and view of etcd hold nothing but the node's index; they live as
  // long as the world, since events of the world still refer to them after a crash.
  if (!n.loop) {
    n.loop = std::make_unique<NodeLoop>(this, i);
    n.transport = std::make_unique<NodeTransport>(this, i);
    n.config = std::make_unique<NodeConfig>(this, i);
  }
  ReplicaOptions ro;
  ro.node = n.info.id();
  ro.partition = kPartition;
  ro.sync_timeout_ms = 500;
  ro.log_retention = o_.log_retention;
  ro.max_catch_up_gap = 20;
  n.replica = std::make_unique<Replica>(ro, &n.store, n.loop.get(), n.transport.get(),
                                        n.config.get());
  ControllerOptions co;
  co.node = n.info.id();
  co.partitions = {PartitionSpec{kPartition, "emea"}};
  co.sync_members = sync_members_;
  n.controller = std::make_unique<Controller>(co, n.loop.get(), n.transport.get(), n.config.get());
  Schedule(i, 0, [this, i] {
    nodes_[i].replica->Start();
    nodes_[i].controller->Start();
  });
}

void World::Crash(int i) {
  Node& n = nodes_[i];
  if (!n.up) return;
  report_.failovers += n.controller->failovers();
  n.controller.reset();
  n.replica.reset();
  n.store.Crash();
  n.up = false;
  ++n.incarnation;
  n.frozen_until = 0;
}

void World::RenewLeases() {
  for (auto& n : nodes_) {
    if (n.up && n.frozen_until <= now_ && EtcdReachable(n.index)) {
      lease_expiry_[n.index] = now_ + kLeaseTtlMs;
    }
  }
  Schedule(kWorld, kLeaseRenewMs, [this] { RenewLeases(); });
}

void World::Nemesis() {
  if (!faults_on_) return;
  int i = static_cast<int>(Uniform(0, nodes_.size() - 1));
  int j = static_cast<int>(Uniform(0, nodes_.size() - 1));
  int64_t span = static_cast<int64_t>(Uniform(100, 1500));
  switch (Uniform(0, 7)) {
    case 0:
    case 1:
      if (nodes_[i].up) {
        Fault("crash " + nodes_[i].info.id());
        Crash(i);
        Schedule(kWorld, span, [this, i] {
          if (!nodes_[i].up) Boot(i);
        });
      }
      break;
    case 2:
      if (nodes_[i].up) {
        Fault("freeze " + nodes_[i].info.id());
        nodes_[i].frozen_until = std::max(nodes_[i].frozen_until, now_ + span);
      }
      break;
    case 3:
      if (i != j) {
        bool both = Chance(0.5);
        Fault("cut " + nodes_[i].info.id() + (both ? " <-> " : " -> ") + nodes_[j].info.id());
        cut_.insert({i, j});
        if (both) cut_.insert({j, i});
        Schedule(kWorld, span, [this, i, j] {
          cut_.erase({i, j});
          cut_.erase({j, i});
        });
      }
      break;
    case 4:
      // Long enough, often, for the node to be deposed while it runs on.
      span *= static_cast<int64_t>(Uniform(1, 3));
      Fault("cut " + nodes_[i].info.id() + " from etcd");
      nodes_[i].etcd_cut_until = std::max(nodes_[i].etcd_cut_until, now_ + span);
      break;
    case 5: {
      std::string dc = nodes_[i].info.datacenter();
      Fault("datacenter " + dc + " down");
      for (auto& n : nodes_) {
        if (n.info.datacenter() != dc || !n.up) continue;
        int k = n.index;
        Crash(k);
        Schedule(kWorld, span, [this, k] {
          if (!nodes_[k].up) Boot(k);
        });
      }
      break;
    }
    case 7: {
      // A planned move of the primary, to whichever member the seed picks (it may refuse).
      auto it = configs_.find(kPartition);
      if (it == configs_.end()) break;
      int p = IndexOf(it->second.config.primary());
      if (p < 0 || !nodes_[p].replica || i == p) break;
      Fault("move the primary to " + nodes_[i].info.id());
      std::string target = nodes_[i].info.id();
      Schedule(p, 0, [this, p, target] {
        if (nodes_[p].replica) nodes_[p].replica->TransferPrimary(target, 500, [](Status) {});
      });
      break;
    }
    case 6: {
      std::string dc = nodes_[i].info.datacenter();
      Fault("datacenter " + dc + " cut off");
      for (auto& a : nodes_) {
        for (auto& b : nodes_) {
          if ((a.info.datacenter() == dc) != (b.info.datacenter() == dc)) {
            cut_.insert({a.index, b.index});
          }
        }
      }
      Schedule(kWorld, span, [this, dc] {
        for (auto& a : nodes_) {
          for (auto& b : nodes_) {
            if ((a.info.datacenter() == dc) != (b.info.datacenter() == dc)) {
              cut_.erase({a.index, b.index});
            }
          }
        }
      });
      break;
    }
  }
  std::exponential_distribution<double> gap(1.0 / static_cast<double>(o_.fault_gap_ms));
  Schedule(kWorld, static_cast<int64_t>(gap(rng_)) + 1, [this] { Nemesis(); });
}

void World::Heal() {
  faults_on_ = false;
  drop_ = 0;
  cut_.clear();
  for (auto& n : nodes_) {
    n.frozen_until = 0;
    n.etcd_cut_until = 0;
    if (!n.up) Boot(n.index);
  }
}

void World::ClientStep(int c) {
  if (now_ >= o_.run_ms) return;
  auto next = [this, c] { Schedule(kWorld, static_cast<int64_t>(Uniform(1, 10)), [this, c] { ClientStep(c); }); };
  int target = client_target_[c];
  if (Chance(0.25)) {
    // A read without a token: whatever a replica shows must never be lost later.
    int i = static_cast<int>(Uniform(0, nodes_.size() - 1));
    Node& n = nodes_[i];
    if (n.up && n.frozen_until <= now_ && n.replica && n.replica->readable()) {
      std::string key = "k" + std::to_string(Uniform(0, 7));
      for (const auto& v : n.store.Read(key)) observed_[key].insert(v);
      ++report_.reads;
    }
    return next();
  }
  auto w = std::make_shared<Write>();
  w->key = "k" + std::to_string(Uniform(0, 7));
  w->value = "c" + std::to_string(c) + "-" + std::to_string(writes_.size());
  writes_.push_back(w);
  auto answered = std::make_shared<bool>(false);
  auto finish = [this, w, answered, c, next](Result<Commit> r, int node) {
    if (*answered) return;
    *answered = true;
    if (r.ok()) {
      w->outcome = Write::kAcked;
      w->commit = *r;
      w->primary = nodes_[node].info.id();
      ++report_.writes_acknowledged;
      // Read it back with its token from some replica.
      int j = static_cast<int>(Uniform(0, nodes_.size() - 1));
      TokenRead(w, j, now_ + 300);
    } else {
      bool unknown = r.status().message().find("not acknowledged") != std::string::npos ||
                     r.status().message().find("deadline") != std::string::npos;
      w->outcome = unknown ? Write::kUnknown : Write::kFailed;
      ++report_.writes_failed;
      // Try the primary the configuration names, as a redirect would tell the client.
      auto it = configs_.find(kPartition);
      int p = it == configs_.end() ? -1 : IndexOf(it->second.config.primary());
      client_target_[c] = p >= 0 && Chance(0.8) ? p : static_cast<int>(Uniform(0, nodes_.size() - 1));
    }
    next();
  };
  // The client gives up after a second: the write's fate is then unknown.
  Schedule(kWorld, 1000, [finish, target] {
    finish(meridian::Status(Code::kUnavailable, "deadline exceeded"), target);
  });
  Schedule(target, Delay(), [this, w, target, finish] {
    Node& n = nodes_[target];
    if (!n.replica) return;
    n.replica->Propose(
        [w](const store::ReadView&, proto::Op* op) {
          op->mutable_put_object()->set_id(w->key);
          op->mutable_put_object()->set_record_json(w->value);
          return meridian::Status::Ok();
        },
        [this, finish, target](Result<Commit> r) {
          Schedule(kWorld, Delay(), [finish, target, r] { finish(r, target); });
        });
  });
}

void World::TokenRead(const std::shared_ptr<Write>& w, int node, int64_t deadline) {
  Node& n = nodes_[node];
  if (n.up && n.frozen_until <= now_ && n.replica && n.replica->readable() &&
      n.replica->visible_lsn() >= w->commit.lsn) {
    ++report_.token_reads;
    auto values = n.store.Read(w->key);
    for (const auto& v : values) observed_[w->key].insert(v);
    if (std::find(values.begin(), values.end(), w->value) == values.end()) {
      report_.violations.push_back("read with token (lsn " + std::to_string(w->commit.lsn) +
                                   ") on " + n.info.id() + " missed its write " + w->value);
    }
    return;
  }
  if (now_ >= deadline) return;  // the server would send it to the primary now
  Schedule(kWorld, 10, [this, w, node, deadline] { TokenRead(w, node, deadline); });
}

void World::Check() {
  auto& v = report_.violations;
  auto it = configs_.find(kPartition);
  if (it == configs_.end()) {
    v.push_back("no configuration after settling");
    return;
  }
  const auto& c = it->second.config;
  int p = IndexOf(c.primary());
  Node& primary = nodes_[p];
  if (!primary.replica || !primary.replica->accepting_writes()) {
    v.push_back("no writable primary after settling (configuration names " + c.primary() +
                ", epoch " + std::to_string(c.epoch()) + ")");
    return;
  }
  uint64_t committed = primary.replica->committed_lsn();
  KvState final_state = primary.store.StateAt(committed);
  uint64_t digest = MemStore::Digest(final_state);
  // Every replica converges on the primary's committed state.
  for (auto& n : nodes_) {
    if (n.index == p) continue;
    Role role = RoleIn(c, n.info.id());
    if (role == Role::kNone) {
      v.push_back(n.info.id() + " is no member of the partition after settling");
      continue;
    }
    uint64_t visible = n.replica->visible_lsn();
    if (visible != committed) {
      v.push_back(n.info.id() + " (" + RoleName(role) + ") did not converge: visible " +
                  std::to_string(visible) + ", primary committed " + std::to_string(committed));
      continue;
    }
    if (MemStore::Digest(n.store.StateAt(visible)) != digest) {
      v.push_back(n.info.id() + " holds a different state at lsn " + std::to_string(visible));
    }
  }
  // Acknowledged writes are there exactly once; others at most once.
  std::map<std::string, int> count;
  for (const auto& [key, values] : final_state) {
    for (const auto& val : values) ++count[val];
  }
  std::map<uint64_t, std::string> by_lsn;
  std::map<uint64_t, std::string> acker_by_epoch;
  for (const auto& w : writes_) {
    int n = count[w->value];
    if (w->outcome == Write::kAcked) {
      if (n != 1) v.push_back("acknowledged write " + w->value + " present " + std::to_string(n) + " times");
      auto [bl, fresh] = by_lsn.emplace(w->commit.lsn, w->value);
      if (!fresh && bl->second != w->value) {
        v.push_back("lsn " + std::to_string(w->commit.lsn) + " acknowledged for two writes");
      }
      auto [ae, first] = acker_by_epoch.emplace(w->commit.epoch, w->primary);
      if (!first && ae->second != w->primary) {
        v.push_back("two primaries acknowledged in epoch " + std::to_string(w->commit.epoch) +
                    ": " + ae->second + " and " + w->primary);
      }
    } else if (w->outcome == Write::kFailed && n != 0) {
      v.push_back("refused write " + w->value + " is present");
    } else if (n > 1) {
      v.push_back("write " + w->value + " present " + std::to_string(n) + " times");
    }
  }
  for (const auto& [key, values] : observed_) {
    for (const auto& val : values) {
      if (count[val] == 0) v.push_back("a read returned " + val + ", which was later lost");
    }
  }
}

Report World::RunAll() {
  report_.seed = o_.seed;
  sync_members_ = Uniform(1, 2);
  for (int i = 0; i < o_.nodes; ++i) {
    Node n;
    n.index = i;
    n.info.set_id("n" + std::to_string(i + 1));
    n.info.set_cloud("global");
    n.info.set_region("emea");
    n.info.set_datacenter("dc" + std::to_string(i % o_.datacenters + 1));
    nodes_.push_back(std::move(n));
  }
  // Sometimes the last node joins only after the first placement: the primary must take it in as
  // a candidate.
  int late = o_.faults && Chance(0.3) ? o_.nodes - 1 : -1;
  for (int i = 0; i < o_.nodes; ++i) {
    if (i == late) {
      nodes_[i].up = false;
      Schedule(kWorld, 1200, [this, i] {
        lease_expiry_[i] = now_ + kLeaseTtlMs;
        Boot(i);
      });
      continue;
    }
    lease_expiry_[i] = kLeaseTtlMs;
    Boot(i);
  }
  RenewLeases();
  // Clients start once the controller has placed the partition and its primary reconciled.
  for (int c = 0; c < o_.clients; ++c) {
    client_target_[c] = static_cast<int>(Uniform(0, nodes_.size() - 1));
    Schedule(kWorld, 500 + c, [this, c] { ClientStep(c); });
  }
  if (o_.faults) {
    Schedule(kWorld, 700, [this] {
      faults_on_ = true;
      drop_ = o_.drop;
      Nemesis();
    });
  }
  Schedule(kWorld, o_.run_ms, [this] { Heal(); });
  int64_t end = o_.run_ms + o_.settle_ms;
  while (!queue_.empty() && queue_.top().at <= end) {
    Event e = queue_.top();
    queue_.pop();
    now_ = e.at;
    ++report_.events;
    if (e.node != kWorld) {
      Node& n = nodes_[e.node];
      if (!n.up || n.incarnation != e.incarnation) continue;
      if (n.frozen_until > now_) {
        queue_.push(Event{n.frozen_until, seq_++, e.node, e.incarnation, std::move(e.fn)});
        continue;
      }
    }
    e.fn();
  }
  now_ = end;
  Check();
  for (auto& n : nodes_) {
    if (n.controller) report_.failovers += n.controller->failovers();
  }
  // Tear down before the world: their destructors must not reach for it.
  for (auto& n : nodes_) {
    n.controller.reset();
    n.replica.reset();
  }
  return report_;
}

}  // namespace

std::string Report::Summary() const {
  std::ostringstream s;
  s << "seed " << seed << ": " << writes_acknowledged << " writes acknowledged, " << writes_failed
    << " failed, " << token_reads << " token reads, " << reads << " reads, " << faults
    << " faults, " << failovers << " failovers, " << checkpoints << " checkpoints, " << events
    << " events, " << violations.size() << " violations";
  for (const auto& v : violations) s << "\n  " << v;
  return s.str();
}

Report Run(const SimOptions& options) {
  World w(options);
  return w.RunAll();
}

}  // namespace meridian::replication::sim
