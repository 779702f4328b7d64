// replication_bench: the replicated data tier measured in one process, side by side on one
// machine. It starts a real etcd, makes the cluster certificates, and runs three nodes (n1 dc1,
// n2 dc2, n3 dc1), each with its own loop, gRPC transport and server (mutual TLS on loopback),
// partition (fsync on, visibility tracked), replica, etcd configuration store and registration.
// It measures, for W concurrent writers:
//   (a) replicated writes through the primary (Replica::Propose, waiting for the commit);
//   (b) the same write on a lone Partition with Write() (the embedded default, one fsync each);
//   (c) etcd puts of a value of the same size through EtcdClient, against the same etcd;
// then (d) planned failover (TransferPrimary under an 8-writer load) and (e) emergency failover
// (the primary killed, controllers on n2 and n3, reads on n3 throughout), and prints one table.
//
//   build/bench/meridian_replication_bench [--seconds=3] [--reps=3] [--writers=1,8,64]
//                                          [--value-bytes=256] [--verbose]
// MERIDIAN_BENCH_SECONDS and MERIDIAN_BENCH_REPS set the defaults of --seconds and --reps.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/etcd_config_store.h"
#include "cluster/testing/etcd_process.h"
#include "common/testing/temp_dir.h"
#include "replication/controller.h"
#include "replication/partition_replica_store.h"
#include "replication/replica.h"
#include "replication/thread_loop.h"
#include "rpc/cluster_certs.h"
#include "rpc/grpc_transport.h"
#include "store/partition.h"

namespace meridian::bench {
namespace {

using Clock = std::chrono::steady_clock;
using replication::Commit;
using replication::Replica;

constexpr char kCluster[] = "bench";
constexpr char kPartition[] = "bench-1";
constexpr char kRegion[] = "emea";

// ------------------------------------------------------------------------------------ options

struct Flags {
  double seconds = 3;
  int reps = 3;
  std::vector<int> writers = {1, 8, 64};
  size_t value_bytes = 256;
  bool verbose = false;
};

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags f;
  if (const char* s = std::getenv("MERIDIAN_BENCH_SECONDS")) f.seconds = std::atof(s);
  if (const char* s = std::getenv("MERIDIAN_BENCH_REPS")) f.reps = std::atoi(s);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = std::string(name) + "=";
      if (a.rfind(prefix, 0) != 0) return std::nullopt;
      return a.substr(prefix.size());
    };
    if (auto v = value("--seconds")) {
      f.seconds = std::atof(v->c_str());
    } else if (auto v = value("--reps")) {
      f.reps = std::atoi(v->c_str());
    } else if (auto v = value("--value-bytes")) {
      f.value_bytes = static_cast<size_t>(std::atol(v->c_str()));
    } else if (auto v = value("--writers")) {
      f.writers.clear();
      std::stringstream in(*v);
      for (std::string w; std::getline(in, w, ',');) f.writers.push_back(std::atoi(w.c_str()));
    } else if (a == "--verbose") {
      f.verbose = true;
    } else {
      return InvalidArgument("unknown flag " + a);
    }
  }
  if (f.seconds <= 0 || f.reps < 1 || f.writers.empty() || f.value_bytes == 0) {
    return InvalidArgument("--seconds, --reps, --writers and --value-bytes must be positive");
  }
  return f;
}

// ------------------------------------------------------------------------------------ the op

// A trivial state machine: a put of put_object.record_json under "K" + put_object.id.
class KvMachine final : public store::StateMachine {
 public:
  Status Apply(const proto::Op& op, store::WriteContext* ctx) override {
    ctx->Put("K" + op.put_object().id(), op.put_object().record_json());
    return Status::Ok();
  }
};

store::Partition::Builder PutBuilder(std::string key, const std::string* value) {
  return [key = std::move(key), value](const store::ReadView&, proto::Op* op) {
    op->mutable_put_object()->set_type("kv");
    op->mutable_put_object()->set_id(key);
    op->mutable_put_object()->set_record_json(*value);
    return Status::Ok();
  };
}

// ------------------------------------------------------------------------------------ counters

// Closes a node's callbacks off before its replica and controller go: a callback that arrives
// from a transport or the configuration store after Close() is dropped, and Close() waits for
// the ones running. (Replica and Controller check their own liveness, but only before they post
// to the loop, which races with their destruction.)
class Gate {
 public:
  template <typename T>
  std::function<void(T)> Wrap(std::function<void(T)> fn) {
    return [this, fn = std::move(fn)](T value) {
      std::shared_lock<std::shared_mutex> lock(mu_);
      if (!closed_) fn(std::move(value));
    };
  }
  void Close() {
    std::unique_lock<std::shared_mutex> lock(mu_);
    closed_ = true;
  }

 private:
  std::shared_mutex mu_;
  bool closed_ = false;
};

// The replica's store, counting the calls of each kind and the time they take: fsyncs (Sync),
// log trims, and the other writes and log reads.
class CountingStore final : public replication::ReplicaStore {
 public:
  enum Kind { kSync, kTrim, kPropose, kAppend, kApply, kReadLog, kEpochAt, kKinds };
  struct Counter {
    std::atomic<uint64_t> calls{0};
    std::atomic<int64_t> ns{0};
  };

  explicit CountingStore(replication::ReplicaStore* inner) : s_(inner) {}
  mutable Counter counters[kKinds];

  // Runs `fn`, counting it as a call of `kind`.
  template <typename F>
  auto Timed(Kind kind, F fn) const {
    auto t0 = Clock::now();
    auto r = fn();
    counters[kind].ns.fetch_add((Clock::now() - t0).count());
    counters[kind].calls.fetch_add(1);
    return r;
  }

  uint64_t base() const override { return s_->base(); }
  uint64_t base_epoch() const override { return s_->base_epoch(); }
  uint64_t applied() const override { return s_->applied(); }
  uint64_t log_end() const override { return s_->log_end(); }
  uint64_t durable_end() const override { return s_->durable_end(); }
  Result<uint64_t> EpochAt(uint64_t lsn) const override {
    return Timed(kEpochAt, [&] { return s_->EpochAt(lsn); });
  }
  Result<uint64_t> Propose(uint64_t epoch, const Builder& build) override {
    return Timed(kPropose, [&] { return s_->Propose(epoch, build); });
  }
  Status Append(const std::vector<proto::Op>& ops) override {
    return Timed(kAppend, [&] { return s_->Append(ops); });
  }
  Result<uint64_t> Sync() override {
    return Timed(kSync, [&] { return s_->Sync(); });
  }
  Status TruncateAfter(uint64_t lsn) override { return s_->TruncateAfter(lsn); }
  Status ApplyThrough(uint64_t lsn) override {
    return Timed(kApply, [&] { return s_->ApplyThrough(lsn); });
  }
  void SetVisible(uint64_t lsn) override { s_->SetVisible(lsn); }
  uint64_t visible() const override { return s_->visible(); }
  Status ReadLog(uint64_t from, size_t max_bytes, std::vector<proto::Op>* out) const override {
    return Timed(kReadLog, [&] { return s_->ReadLog(from, max_bytes, out); });
  }
  Status TrimLogThrough(uint64_t lsn) override {
    return Timed(kTrim, [&] { return s_->TrimLogThrough(lsn); });
  }
  Result<std::unique_ptr<replication::CheckpointReader>> OpenCheckpoint() override {
    return s_->OpenCheckpoint();
  }
  Result<std::unique_ptr<replication::CheckpointWriter>> BeginInstall() override {
    return s_->BeginInstall();
  }
  Status Install(std::unique_ptr<replication::CheckpointWriter> writer) override {
    return s_->Install(std::move(writer));
  }

 private:
  replication::ReplicaStore* const s_;
};

// The node's transport: counts Append calls and their round trips, and passes every reply
// through the node's Gate.
class CountingTransport final : public replication::Transport {
 public:
  CountingTransport(replication::Transport* inner, Gate* gate) : t_(inner), gate_(gate) {}
  void Append(const std::string& to, const proto::AppendRequest& request,
              replication::Reply<proto::AppendResponse> reply) override {
    auto t0 = Clock::now();
    appends.fetch_add(1);
    entries.fetch_add(static_cast<uint64_t>(request.entries_size()));
    t_->Append(to, request,
               gate_->Wrap<Result<proto::AppendResponse>>(
                   [this, t0, reply = std::move(reply)](Result<proto::AppendResponse> r) {
                     append_ns.fetch_add((Clock::now() - t0).count());
                     reply(std::move(r));
                   }));
  }
  void Status(const std::string& to, const proto::ReplicaStatusRequest& request,
              replication::Reply<proto::ReplicaStatus> reply) override {
    t_->Status(to, request, gate_->Wrap<Result<proto::ReplicaStatus>>(std::move(reply)));
  }
  void FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                       replication::CheckpointWriter* sink,
                       std::function<void(meridian::Status)> done) override {
    t_->FetchCheckpoint(to, request, sink, gate_->Wrap<meridian::Status>(std::move(done)));
  }
  void Forward(const std::string& to, const proto::ForwardRequest& request,
               replication::Reply<proto::ForwardResponse> reply) override {
    t_->Forward(to, request, gate_->Wrap<Result<proto::ForwardResponse>>(std::move(reply)));
  }

  std::atomic<uint64_t> appends{0};
  std::atomic<uint64_t> entries{0};
  std::atomic<int64_t> append_ns{0};

 private:
  replication::Transport* const t_;
  Gate* const gate_;
};

// The node's configuration store, its callbacks passed through the node's Gate.
class GatedConfigStore final : public replication::ConfigStore {
 public:
  GatedConfigStore(replication::ConfigStore* inner, Gate* gate) : c_(inner), gate_(gate) {}
  void Get(const std::string& partition,
           std::function<void(Result<replication::VersionedConfig>)> done) override {
    c_->Get(partition, gate_->Wrap<Result<replication::VersionedConfig>>(std::move(done)));
  }
  void CompareAndSwap(const std::string& partition, int64_t expected_revision,
                      const proto::PartitionConfig& next,
                      std::function<void(Result<int64_t>)> done) override {
    c_->CompareAndSwap(partition, expected_revision, next,
                       gate_->Wrap<Result<int64_t>>(std::move(done)));
  }
  void ListPartitions(
      std::function<void(Result<std::vector<replication::VersionedConfig>>)> done) override {
    c_->ListPartitions(
        gate_->Wrap<Result<std::vector<replication::VersionedConfig>>>(std::move(done)));
  }
  void LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) override {
    c_->LiveNodes(gate_->Wrap<Result<std::vector<proto::NodeInfo>>>(std::move(done)));
  }

 private:
  replication::ConfigStore* const c_;
  Gate* const gate_;
};

// ------------------------------------------------------------------------------------ a node

// One in-process node: what server/cluster_node.cc wires, for one partition, without the
// directory. Clients call Propose() from any thread; Kill() stops the node as a crash would
// (its lease is left to lapse), Stop() as a shutdown does.
class Node final : public replication::Service {
 public:
  Node(std::string id, std::string dc) : id_(std::move(id)), dc_(std::move(dc)) {}
  ~Node() override { Stop(false); }

  meridian::Status Start(const std::string& certs_dir, const std::string& etcd_endpoint) {
    store::PartitionOptions po;
    po.track_visibility = true;
    MERIDIAN_ASSIGN_OR_RETURN(partition_,
                              store::Partition::Open(kPartition, dir_.File("data"), &machine_, po));
    pstore_ = std::make_unique<replication::PartitionReplicaStore>(partition_.get());
    store_ = std::make_unique<CountingStore>(pstore_.get());
    cluster::EtcdOptions eo;
    eo.endpoints = {etcd_endpoint};
    MERIDIAN_ASSIGN_OR_RETURN(etcd_, cluster::EtcdClient::Create(eo));
    etcd_config_ = std::make_unique<cluster::EtcdConfigStore>(etcd_.get(), kCluster);
    config_ = std::make_unique<GatedConfigStore>(etcd_config_.get(), &gate_);
    loop_ = std::make_unique<replication::ThreadLoop>();
    MERIDIAN_ASSIGN_OR_RETURN(rpc::NodeCredentials creds,
                              rpc::LoadNodeCredentials(certs_dir, id_));
    rpc::GrpcTransportOptions to;
    to.credentials = creds;
    to.call_timeout = std::chrono::milliseconds(2000);
    grpc_ = std::make_unique<rpc::GrpcTransport>(to);
    transport_ = std::make_unique<CountingTransport>(grpc_.get(), &gate_);
    replication::ReplicaOptions ro;
    ro.node = id_;
    ro.partition = kPartition;
    replica_ = std::make_unique<Replica>(ro, store_.get(), loop_.get(), transport_.get(),
                                         config_.get());
    rpc::GrpcServerOptions so;
    so.listen_address = "127.0.0.1:0";
    so.credentials = creds;
    so.shutdown_grace = std::chrono::milliseconds(100);
    MERIDIAN_ASSIGN_OR_RETURN(server_, rpc::GrpcServer::Start(so, this));
    proto::NodeInfo info;
    info.set_id(id_);
    info.set_cloud("global");
    info.set_region(kRegion);
    info.set_datacenter(dc_);
    info.set_peer_address(address());
    MERIDIAN_ASSIGN_OR_RETURN(registration_,
                              cluster::NodeRegistration::Start(etcd_.get(), kCluster, info,
                                                               std::chrono::seconds(2)));
    return meridian::Status::Ok();
  }

  void AddPeer(const Node& peer) { grpc_->SetPeerAddress(peer.id(), peer.address()); }
  void StartReplica() {
    loop_->Post([this] { replica_->Start(); });
  }
  void StartController() {
    replication::ControllerOptions co;
    co.node = id_;
    controller_ = std::make_unique<replication::Controller>(co, loop_.get(), transport_.get(),
                                                            config_.get());
    loop_->Post([this] { controller_->Start(); });
  }

  // Proposes a put and waits for its commit. kUnavailable when the node is down or not taking
  // writes, or when the write's fate became unknown (the primary changed or stopped).
  Result<Commit> Propose(const store::Partition::Builder& build) {
    auto waiter = std::make_shared<Waiter>();
    {
      std::shared_lock<std::shared_mutex> lock(down_mu_);
      if (down_) return meridian::Status(Code::kUnavailable, id_ + " is down");
      auto guard = std::make_shared<Guard>(waiter);
      replica_->Propose(build, [guard](Result<Commit> c) { guard->Fire(std::move(c)); });
    }
    return waiter->Wait();
  }
  bool accepting_writes() {
    std::shared_lock<std::shared_mutex> lock(down_mu_);
    return !down_ && replica_->accepting_writes();
  }
  // A read of the replica's visible state, as a read request would be served on this node:
  // false when the replica may not serve reads (down, not readable, or not a member).
  bool ServeRead(const std::string& key) {
    std::shared_lock<std::shared_mutex> lock(down_mu_);
    if (down_ || !replica_->readable()) return false;
    replication::Role role = replica_->role();
    if (role == replication::Role::kNone || role == replication::Role::kCandidate) return false;
    return partition_->Latest()->Get("K" + key).ok();
  }
  // Runs `fn` on the node's loop and waits for it.
  void OnLoop(std::function<void(Replica*)> fn) {
    std::promise<void> ran;
    loop_->Post([&] {
      fn(replica_.get());
      ran.set_value();
    });
    ran.get_future().wait();
  }

  // A crash: the registration stops renewing (the lease lapses after its TTL), peers can no
  // longer reach the node, and its replica is gone.
  void Kill() { Stop(true); }

  void Stop(bool crash) {
    if (!loop_) return;
    if (registration_) {
      if (crash) registration_->Abandon();
      registration_.reset();
    }
    {
      std::unique_lock<std::shared_mutex> lock(down_mu_);
      down_ = true;
    }
    if (server_) server_->Shutdown();
    gate_.Close();
    OnLoop([this](Replica*) {
      controller_.reset();
      replica_.reset();  // pending proposals are dropped: their clients see kUnavailable
    });
    grpc_.reset();
    etcd_config_.reset();
    loop_.reset();
    server_.reset();
  }

  const std::string& id() const { return id_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  CountingStore& store() { return *store_; }
  CountingTransport& transport() { return *transport_; }
  uint64_t failovers() const { return controller_ ? controller_->failovers() : 0; }

  // replication::Service, dispatched onto the loop.
  void Append(const proto::AppendRequest& request,
              std::function<void(proto::AppendResponse)> reply) override {
    loop_->Post([this, request, reply = std::move(reply)] {
      if (replica_) replica_->HandleAppend(request, reply);
    });
  }
  void Status(const proto::ReplicaStatusRequest& request,
              replication::Reply<proto::ReplicaStatus> reply) override {
    loop_->Post([this, reply = std::move(reply)] {
      if (replica_) reply(replica_->HandleStatus());
    });
  }
  void FetchCheckpoint(
      const proto::CheckpointRequest& request,
      replication::Reply<std::unique_ptr<replication::CheckpointReader>> reply) override {
    loop_->Post([this, request, reply = std::move(reply)]() mutable {
      if (replica_) replica_->HandleFetchCheckpoint(request, std::move(reply));
    });
  }
  void Forward(const proto::ForwardRequest& request,
               replication::Reply<proto::ForwardResponse> reply) override {
    reply(meridian::Status(Code::kUnavailable, "the benchmark forwards nothing"));
  }

 private:
  // Where a client waits for its proposal's outcome.
  struct Waiter {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<Commit>> result;
    void Set(Result<Commit> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (!result) result = std::move(r);
      cv.notify_all();
    }
    Result<Commit> Wait() {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return result.has_value(); });
      return *result;
    }
  };
  // Completes the waiter with kUnavailable when the replica drops the callback unrun.
  struct Guard {
    explicit Guard(std::shared_ptr<Waiter> w) : waiter(std::move(w)) {}
    ~Guard() { waiter->Set(meridian::Status(Code::kUnavailable, "the node went away")); }
    void Fire(Result<Commit> c) { waiter->Set(std::move(c)); }
    std::shared_ptr<Waiter> waiter;
  };

  const std::string id_;
  const std::string dc_;
  meridian::testing::TempDir dir_;
  KvMachine machine_;
  Gate gate_;
  std::unique_ptr<store::Partition> partition_;
  std::unique_ptr<replication::PartitionReplicaStore> pstore_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::EtcdConfigStore> etcd_config_;
  std::unique_ptr<GatedConfigStore> config_;
  std::unique_ptr<replication::ThreadLoop> loop_;
  std::unique_ptr<rpc::GrpcTransport> grpc_;
  std::unique_ptr<CountingTransport> transport_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<rpc::GrpcServer> server_;
  std::unique_ptr<cluster::NodeRegistration> registration_;
  std::unique_ptr<replication::Controller> controller_;
  std::shared_mutex down_mu_;
  bool down_ = false;  // guarded by down_mu_
};

// ------------------------------------------------------------------------------------ load

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What one load run saw.
struct Run {
  double seconds = 0;
  std::vector<double> latency_ms;  // of each successful write
  // When each successful write completed, and on which target (an index the op returns).
  std::vector<std::pair<Clock::time_point, int>> commits;
  uint64_t failures = 0;
  double per_second() const { return latency_ms.size() / seconds; }
  double Percentile(double q) {
    if (latency_ms.empty()) return 0;
    std::sort(latency_ms.begin(), latency_ms.end());
    size_t i = std::min(latency_ms.size() - 1, static_cast<size_t>(q * latency_ms.size()));
    return latency_ms[i];
  }
};

// One write of writer `thread`, its `seq`th: the status, and in `*target` where it went.
using WriteFn = std::function<Status(int thread, uint64_t seq, int* target)>;

// `writers` threads call `write` back to back until `stop` is set; a failed write is retried
// after 2 ms (a client's back-off on kUnavailable).
Run Load(int writers, const WriteFn& write, const std::atomic<bool>& stop) {
  std::vector<Run> per(writers);
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      Run& r = per[t];
      for (uint64_t seq = 0; !stop.load(); ++seq) {
        int target = 0;
        auto t0 = Clock::now();
        Status s = write(t, seq, &target);
        auto t1 = Clock::now();
        if (s.ok()) {
          r.latency_ms.push_back(Millis(t1 - t0));
          r.commits.emplace_back(t1, target);
        } else {
          ++r.failures;
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  Run all;
  all.seconds = Seconds(Clock::now() - start);
  for (auto& r : per) {
    all.latency_ms.insert(all.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    all.commits.insert(all.commits.end(), r.commits.begin(), r.commits.end());
    all.failures += r.failures;
  }
  std::sort(all.commits.begin(), all.commits.end());
  return all;
}

Run LoadFor(int writers, double seconds, const WriteFn& write) {
  std::atomic<bool> stop{false};
  std::thread timer([&] {
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop.store(true);
  });
  Run r = Load(writers, write, stop);
  timer.join();
  return r;
}

// The machine's CPU time, busy and total, from /proc/stat (every core).
std::pair<uint64_t, uint64_t> CpuTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  uint64_t v[8] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  uint64_t idle = v[3] + v[4];
  uint64_t total = 0;
  for (auto x : v) total += x;
  return {total - idle, total};
}

// CPU seconds used by this process (every thread) and by its etcd child, for the cost of a write.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The pid of this process's etcd child, found by its parent and name; -1 when there is none.
pid_t EtcdPid() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "stat");
    std::string pid, comm, state;
    long ppid = 0;
    if (in >> pid >> comm >> state >> ppid && ppid == getpid() && comm == "(etcd)") {
      return static_cast<pid_t>(std::atol(pid.c_str()));
    }
  }
  return -1;
}

double ChildCpuSeconds(pid_t pid) {
  if (pid <= 0) return 0;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string field;
  double ticks = 0;
  for (int i = 1; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::atof(field.c_str());  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

pid_t etcd_pid = -1;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// The median over repetitions of a measurement's figures.
struct Figures {
  double per_second = 0, p50 = 0, p99 = 0, busy = 0;  // busy: machine CPU, 0..1
  double cpu_us = 0;  // CPU of this process and etcd per write, microseconds
  std::vector<double> all_per_second;  // every repetition's
};

Figures Measure(int reps, int writers, double seconds, const WriteFn& write,
                const std::function<void()>& between = nullptr) {
  std::vector<double> wps, p50, p99, busy, cpu_us;
  for (int i = 0; i < reps; ++i) {
    auto c0 = CpuTicks();
    double own0 = ProcessCpuSeconds(), etcd0 = ChildCpuSeconds(etcd_pid);
    Run r = LoadFor(writers, seconds, write);
    auto c1 = CpuTicks();
    double used = ProcessCpuSeconds() - own0 + ChildCpuSeconds(etcd_pid) - etcd0;
    cpu_us.push_back(r.latency_ms.empty() ? 0 : 1e6 * used / r.latency_ms.size());
    wps.push_back(r.per_second());
    p50.push_back(r.Percentile(0.5));
    p99.push_back(r.Percentile(0.99));
    busy.push_back(static_cast<double>(c1.first - c0.first) / (c1.second - c0.second));
    if (between) between();
  }
  return Figures{Median(wps), Median(p50), Median(p99), Median(busy), Median(cpu_us), wps};
}

// The p50 of `n` 4 KiB writes each followed by fdatasync, in `dir`: what one fsync costs here.
double FsyncMillis(const std::string& dir, int n) {
  std::string path = dir + "/fsync-probe";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  std::string block(4096, 'x');
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    if (pwrite(fd, block.data(), block.size(), static_cast<off_t>(i) * 4096) < 0) break;
    fdatasync(fd);
    ms.push_back(Millis(Clock::now() - t0));
  }
  close(fd);
  unlink(path.c_str());
  return Median(ms);
}

// ------------------------------------------------------------------------------------ main

int Main(int argc, char** argv) {
  auto flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "%s\n", flags.status().ToString().c_str());
    return 2;
  }
  const Flags f = *flags;
  spdlog::set_level(f.verbose ? spdlog::level::info : spdlog::level::warn);
  std::string command;
  for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
  for (const char* env : {"MERIDIAN_BENCH_SECONDS", "MERIDIAN_BENCH_REPS"}) {
    if (const char* v = std::getenv(env)) command = std::string(env) + "=" + v + " " + command;
  }
  const std::string value(f.value_bytes, 'v');
  auto fail = [](const std::string& what, const meridian::Status& s) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), s.ToString().c_str());
    return 1;
  };

  // etcd, certificates, three nodes.
  auto etcd = cluster::testing::EtcdProcess::Launch();
  if (!etcd.ok()) return fail("etcd", etcd.status());
  etcd_pid = EtcdPid();
  meridian::testing::TempDir certs;
  auto made = rpc::MakeClusterCertificates(certs.path(), {"n1", "n2", "n3"}, {"127.0.0.1"});
  if (!made.ok()) return fail("certificates", made.status());
  std::vector<std::unique_ptr<Node>> nodes;
  for (auto [id, dc] : {std::pair<const char*, const char*>{"n1", "dc1"},
                        std::pair<const char*, const char*>{"n2", "dc2"},
                        std::pair<const char*, const char*>{"n3", "dc1"}}) {
    nodes.push_back(std::make_unique<Node>(id, dc));
    Status s = nodes.back()->Start(certs.path(), (*etcd)->endpoint());
    if (!s.ok()) return fail(std::string("node ") + id, s);
  }
  for (auto& a : nodes) {
    for (auto& b : nodes) {
      if (a != b) a->AddPeer(*b);
    }
  }
  cluster::EtcdOptions admin_options;
  admin_options.endpoints = {(*etcd)->endpoint()};
  auto admin = cluster::EtcdClient::Create(admin_options);
  if (!admin.ok()) return fail("etcd client", admin.status());
  {
    cluster::EtcdConfigStore config(admin->get(), kCluster);
    proto::PartitionConfig first;
    first.set_partition(kPartition);
    first.set_region(kRegion);
    first.set_epoch(1);
    first.set_primary("n1");
    first.add_sync("n2");
    first.add_secondaries("n3");
    std::promise<Result<int64_t>> placed;
    config.CompareAndSwap(kPartition, 0, first, [&](Result<int64_t> r) { placed.set_value(r); });
    Result<int64_t> r = placed.get_future().get();
    if (!r.ok()) return fail("first configuration", r.status());
  }
  for (auto& n : nodes) n->StartReplica();
  auto wait_until = [](const std::function<bool()>& cond, double seconds) {
    auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    while (!cond()) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  };
  auto setup_start = Clock::now();
  if (!wait_until([&] { return nodes[0]->accepting_writes(); }, 30)) {
    return fail("setup", meridian::Status(Code::kUnavailable, "n1 never took writes"));
  }
  std::fprintf(stderr, "n1 takes writes %.0f ms after its replica started\n",
               Millis(Clock::now() - setup_start));

  // Writes to whichever node takes them.
  std::atomic<int> hint{0};
  WriteFn replicated = [&](int thread, uint64_t seq, int* target) -> meridian::Status {
    int at = hint.load();
    if (!nodes[at]->accepting_writes()) {
      for (size_t i = 0; i < nodes.size(); ++i) {
        if (nodes[i]->accepting_writes()) at = static_cast<int>(i);
      }
      hint.store(at);
    }
    *target = at;
    auto c = nodes[at]->Propose(PutBuilder("w" + std::to_string(thread) + "-" +
                                               std::to_string(seq % 1000),
                                           &value));
    return c.ok() ? meridian::Status::Ok() : c.status();
  };

  // The embedded default, a lone partition.
  meridian::testing::TempDir lone_dir;
  KvMachine lone_machine;
  auto lone = store::Partition::Open("lone", lone_dir.File("data"), &lone_machine);
  if (!lone.ok()) return fail("lone partition", lone.status());
  WriteFn single = [&](int thread, uint64_t seq, int*) -> meridian::Status {
    auto r = (*lone)->Write(
        PutBuilder("w" + std::to_string(thread) + "-" + std::to_string(seq % 1000), &value));
    return r.ok() ? meridian::Status::Ok() : r.status();
  };
  WriteFn etcd_put = [&](int thread, uint64_t seq, int*) -> meridian::Status {
    auto r = (*admin)->Put("/bench/put/" + std::to_string(thread) + "/" +
                               std::to_string(seq % 1000),
                           value);
    return r.ok() ? meridian::Status::Ok() : r.status();
  };

  const double fsync_ms = FsyncMillis(lone_dir.path(), 50);
  struct Row {
    int writers;
    Figures replicated, single, etcd;
    double fsyncs_per_commit[3];
    double sync_ms[3];  // mean time in one Sync, per node
    // Per node and kind of store call: calls per commit, and milliseconds per second of run.
    double calls_per_commit[3][CountingStore::kKinds];
    double ms_per_second[3][CountingStore::kKinds];
    double appends_per_commit, append_ms, entries_per_append;
  };
  std::vector<Row> rows;
  for (int w : f.writers) {
    Row row{};
    row.writers = w;
    uint64_t calls0[3][CountingStore::kKinds];
    int64_t ns0[3][CountingStore::kKinds];
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < CountingStore::kKinds; ++k) {
        calls0[i][k] = nodes[i]->store().counters[k].calls.load();
        ns0[i][k] = nodes[i]->store().counters[k].ns.load();
      }
    }
    auto& tr = nodes[0]->transport();
    uint64_t appends0 = tr.appends.load(), entries0 = tr.entries.load();
    int64_t append_ns0 = tr.append_ns.load();
    std::atomic<uint64_t> committed{0};
    WriteFn counted = [&](int thread, uint64_t seq, int* target) {
      meridian::Status s = replicated(thread, seq, target);
      if (s.ok()) committed.fetch_add(1);
      return s;
    };
    // Per repetition, on stderr: what applying one committed entry costs a secondary (n2).
    auto& applies = nodes[1]->store().counters[CountingStore::kApply];
    uint64_t rep_commits = 0;
    int64_t rep_apply_ns = applies.ns.load();
    auto per_rep = [&] {
      uint64_t c = committed.load() - rep_commits;
      int64_t ns = applies.ns.load() - rep_apply_ns;
      std::fprintf(stderr, "  W=%d run: %llu commits, n2 ApplyThrough %.1f us per entry, log end %llu\n",
                   w, static_cast<unsigned long long>(c), c ? ns / 1e3 / c : 0.0,
                   static_cast<unsigned long long>(nodes[1]->store().log_end()));
      rep_commits = committed.load();
      rep_apply_ns = applies.ns.load();
    };
    row.replicated = Measure(f.reps, w, f.seconds, counted, per_rep);
    const uint64_t commits = committed.load();
    const double run_seconds = f.seconds * f.reps;
    for (int i = 0; i < 3; ++i) {
      for (int k = 0; k < CountingStore::kKinds; ++k) {
        uint64_t calls = nodes[i]->store().counters[k].calls.load() - calls0[i][k];
        double ms = (nodes[i]->store().counters[k].ns.load() - ns0[i][k]) / 1e6;
        row.calls_per_commit[i][k] = commits ? static_cast<double>(calls) / commits : 0;
        row.ms_per_second[i][k] = ms / run_seconds;
        if (k == CountingStore::kSync) {
          row.fsyncs_per_commit[i] = row.calls_per_commit[i][k];
          row.sync_ms[i] = calls ? ms / calls : 0;
        }
      }
    }
    uint64_t appends = tr.appends.load() - appends0;
    row.appends_per_commit = commits ? static_cast<double>(appends) / commits : 0;
    row.append_ms = appends ? (tr.append_ns.load() - append_ns0) / 1e6 / appends : 0;
    row.entries_per_append = appends ? static_cast<double>(tr.entries.load() - entries0) / appends : 0;
    row.single = Measure(f.reps, w, f.seconds, single);
    row.etcd = Measure(f.reps, w, f.seconds, etcd_put);
    std::fprintf(stderr, "W=%d: replicated %.0f/s, single %.0f/s, etcd %.0f/s\n", w,
                 row.replicated.per_second, row.single.per_second, row.etcd.per_second);
    rows.push_back(row);
  }

  // (d) Planned failover under 8 writers: n1 -> n2, n2 -> n1, ... `reps` times.
  struct Transfer {
    std::string from, to;
    double call_ms = -1, accepting_ms = -1, gap_ms = 0, gap_before_ms = 0;
    uint64_t failures = 0;
    std::string status;
  };
  std::vector<Transfer> transfers;
  auto longest_gap = [](const Run& r, Clock::time_point from, Clock::time_point to) {
    double gap = 0;
    std::optional<Clock::time_point> last;
    for (const auto& [t, target] : r.commits) {
      if (t < from || t > to) continue;
      if (last) gap = std::max(gap, Millis(t - *last));
      last = t;
    }
    return gap;
  };
  for (int i = 0; i < f.reps + (f.reps % 2); ++i) {
    Transfer t;
    t.from = i % 2 == 0 ? "n1" : "n2";
    t.to = i % 2 == 0 ? "n2" : "n1";
    Node* from = i % 2 == 0 ? nodes[0].get() : nodes[1].get();
    Node* to = i % 2 == 0 ? nodes[1].get() : nodes[0].get();
    if (!wait_until([&] { return from->accepting_writes(); }, 10)) {
      t.status = from->id() + " never took writes";
      transfers.push_back(t);
      break;
    }
    std::atomic<bool> stop{false};
    Clock::time_point begin, called, accepting;
    Run run;
    std::thread load([&] { run = Load(8, replicated, stop); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    std::promise<meridian::Status> done;
    begin = Clock::now();
    from->OnLoop([&](Replica* r) {
      r->TransferPrimary(to->id(), 5000, [&](meridian::Status s) {
        called = Clock::now();
        done.set_value(s);
      });
    });
    meridian::Status s = done.get_future().get();
    t.status = s.ok() ? "ok" : s.ToString();
    t.call_ms = Millis(called - begin);
    if (wait_until([&] { return to->accepting_writes(); }, 10)) {
      accepting = Clock::now();
      t.accepting_ms = Millis(accepting - begin);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    stop.store(true);
    load.join();
    t.gap_ms = longest_gap(run, begin - std::chrono::milliseconds(200), Clock::now());
    t.gap_before_ms = longest_gap(run, begin - std::chrono::milliseconds(1000), begin);
    t.failures = run.failures;
    std::fprintf(stderr, "transfer %s -> %s: %s in %.0f ms, gap %.0f ms\n", t.from.c_str(),
                 t.to.c_str(), t.status.c_str(), t.call_ms, t.gap_ms);
    transfers.push_back(t);
  }

  // (e) Emergency failover: controllers on n2 and n3, 8 writers, reads on n3; n1 is killed.
  struct Emergency {
    double first_write_ms = -1, accepting_ms = -1, read_gap_ms = 0;
    double lease_gone_ms = -1, promoted_ms = -1;  // n1's key gone; the configuration moved
    std::string new_primary;
    uint64_t reads_served = 0, reads_refused = 0, reads_served_window = 0,
             reads_refused_window = 0, write_failures = 0;
  } em;
  if (!wait_until([&] { return nodes[0]->accepting_writes(); }, 10)) {
    std::fprintf(stderr, "n1 is not primary before the kill; skipping the emergency failover\n");
  } else {
    nodes[1]->StartController();
    nodes[2]->StartController();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::atomic<bool> recovered{false};
    Run run;
    std::thread load([&] { run = Load(8, replicated, stop); });
    std::thread reader([&] {
      Clock::time_point last_served = Clock::now();
      for (uint64_t i = 0; !stop.load(); ++i) {
        bool ok = nodes[2]->ServeRead("w0-" + std::to_string(i % 1000));
        bool window = killed.load() && !recovered.load();
        auto now = Clock::now();
        if (ok) {
          if (killed.load()) em.read_gap_ms = std::max(em.read_gap_ms, Millis(now - last_served));
          last_served = now;
          ++em.reads_served;
          em.reads_served_window += window;
        } else {
          ++em.reads_refused;
          em.reads_refused_window += window;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    });
    // Watches etcd as an operator would: when n1's registration disappears (its lease lapsed)
    // and when the partition's configuration names another primary.
    Clock::time_point kill_at;
    std::thread watcher([&] {
      while (!killed.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      while (!stop.load() && (em.lease_gone_ms < 0 || em.promoted_ms < 0)) {
        auto key = (*admin)->Get(cluster::NodeKey(kCluster, "n1"));
        if (em.lease_gone_ms < 0 && key.ok() && !key->has_value()) {
          em.lease_gone_ms = Millis(Clock::now() - kill_at);
        }
        auto config = (*admin)->Get(cluster::PartitionKey(kCluster, kPartition));
        proto::PartitionConfig c;
        if (em.promoted_ms < 0 && config.ok() && config->has_value() &&
            c.ParseFromString((*config)->value) && c.primary() != "n1") {
          em.promoted_ms = Millis(Clock::now() - kill_at);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    kill_at = Clock::now();
    killed.store(true);
    nodes[0]->Kill();
    std::fprintf(stderr, "n1 killed (teardown took %.0f ms)\n", Millis(Clock::now() - kill_at));
    int now_primary = -1;
    if (wait_until(
            [&] {
              for (int i = 1; i < 3; ++i) {
                if (nodes[i]->accepting_writes()) now_primary = i;
              }
              return now_primary > 0;
            },
            30)) {
      em.accepting_ms = Millis(Clock::now() - kill_at);
      em.new_primary = nodes[now_primary]->id();
    }
    // Let the writers land a few writes on the new primary, then stop.
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    recovered.store(true);
    stop.store(true);
    load.join();
    reader.join();
    watcher.join();
    for (const auto& [t, target] : run.commits) {
      if (t > kill_at && target != 0) {
        em.first_write_ms = Millis(t - kill_at);
        break;
      }
    }
    em.write_failures = run.failures;
  }

  // The table.
  std::printf("\n## replication_bench\n\n");
  std::printf("command: %s\n", command.c_str());
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  double load1 = 0;
  std::ifstream("/proc/loadavg") >> load1;
  std::printf(
      "machine: nproc=%u, load average at the end %.2f, one 4 KiB write+fdatasync %.2f ms "
      "(median of 50)\n",
      std::thread::hardware_concurrency(), load1, fsync_ms);
  std::printf(
      "setup: etcd %s (one member, fsync on), 3 nodes in this process (n1 dc1 primary, n2 dc2 "
      "sync, n3 dc1 secondary), gRPC mutual TLS on loopback, value %zu bytes, %.1f s per run, "
      "median of %d runs\n\n",
      (*etcd)->endpoint().c_str(), f.value_bytes, f.seconds, f.reps);
  std::printf(
      "| writers | (a) replicated w/s | p50 ms | p99 ms | (b) single Write w/s | p50 ms | p99 ms "
      "| (c) etcd put w/s | p50 ms | p99 ms | (a)/(c) p50 | CPU us/write (a) / (b) / (c) | machine "
      "busy (a) |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& r : rows) {
    std::printf(
        "| %d | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %.0f | %.2f | %.2f | %.2f | %.0f / %.0f / "
        "%.0f | %.0f%% |\n",
        r.writers, r.replicated.per_second, r.replicated.p50, r.replicated.p99,
        r.single.per_second, r.single.p50, r.single.p99, r.etcd.per_second, r.etcd.p50,
        r.etcd.p99, r.etcd.p50 > 0 ? r.replicated.p50 / r.etcd.p50 : 0, r.replicated.cpu_us,
        r.single.cpu_us, r.etcd.cpu_us, 100 * r.replicated.busy);
  }
  std::printf("\nreplicated write path, per commit (all runs of a row):\n\n");
  std::printf(
      "| writers | fsyncs n1 / n2 / n3 | mean Sync ms n1 / n2 / n3 | Appends n1 sent | entries "
      "per Append | Append round trip ms | runs w/s |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& r : rows) {
    std::string runs;
    for (double x : r.replicated.all_per_second) {
      runs += (runs.empty() ? "" : ", ") + std::to_string(static_cast<int>(x));
    }
    std::printf("| %d | %.2f / %.2f / %.2f | %.2f / %.2f / %.2f | %.2f | %.1f | %.2f | %s |\n",
                r.writers, r.fsyncs_per_commit[0], r.fsyncs_per_commit[1],
                r.fsyncs_per_commit[2], r.sync_ms[0], r.sync_ms[1], r.sync_ms[2],
                r.appends_per_commit, r.entries_per_append, r.append_ms, runs.c_str());
  }
  std::printf(
      "\nwhere the store's time goes: ms spent per second of run in each kind of call (calls "
      "per commit), n1 / n2 / n3:\n\n");
  std::printf("| writers | Sync | TrimLogThrough | Propose | Append | ApplyThrough | ReadLog | "
              "EpochAt |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const auto& r : rows) {
    std::printf("| %d |", r.writers);
    for (int k = 0; k < CountingStore::kKinds; ++k) {
      std::printf(" %.0f / %.0f / %.0f (%.2f / %.2f / %.2f) |", r.ms_per_second[0][k],
                  r.ms_per_second[1][k], r.ms_per_second[2][k], r.calls_per_commit[0][k],
                  r.calls_per_commit[1][k], r.calls_per_commit[2][k]);
    }
    std::printf("\n");
  }
  std::printf("\n(d) planned failover, TransferPrimary under 8 writers:\n\n");
  std::printf(
      "| transfer | result | call ms | target accepting ms | longest gap between commits ms | "
      "longest gap in the second before ms | failed attempts |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  std::vector<double> gaps, calls;
  for (const auto& t : transfers) {
    std::printf("| %s -> %s | %s | %.0f | %.0f | %.0f | %.0f | %llu |\n", t.from.c_str(),
                t.to.c_str(), t.status.c_str(), t.call_ms, t.accepting_ms, t.gap_ms,
                t.gap_before_ms, static_cast<unsigned long long>(t.failures));
    gaps.push_back(t.gap_ms);
    calls.push_back(t.call_ms);
  }
  std::printf("\n(e) emergency failover, n1 killed (lease TTL 2 s), controllers on n2 and n3:\n\n");
  std::printf("- n1's registration gone from etcd (lease lapsed) %.0f ms after the kill; the "
              "configuration names a new primary %.0f ms after the kill (polled every 5 ms)\n",
              em.lease_gone_ms, em.promoted_ms);
  std::printf("- new primary %s accepting writes %.0f ms after the kill; first write committed "
              "there %.0f ms after the kill; %llu write attempts refused meanwhile\n",
              em.new_primary.c_str(), em.accepting_ms, em.first_write_ms,
              static_cast<unsigned long long>(em.write_failures));
  std::printf("- reads of n3's visible state: %llu served, %llu not served in the whole run; "
              "%llu served, %llu not served from the kill until a second after the new primary "
              "took writes; longest gap between served reads after the kill %.1f ms\n",
              static_cast<unsigned long long>(em.reads_served),
              static_cast<unsigned long long>(em.reads_refused),
              static_cast<unsigned long long>(em.reads_served_window),
              static_cast<unsigned long long>(em.reads_refused_window), em.read_gap_ms);

  const Row* w1 = nullptr;
  const Row* w64 = nullptr;
  for (const auto& r : rows) {
    if (r.writers == 1) w1 = &r;
    if (r.writers == 64) w64 = &r;
  }
  std::printf("\ntargets:\n\n");
  if (w1) {
    std::printf("- replicated p50 / etcd put p50 at 1 writer: %.2f (target at most 2)\n",
                w1->replicated.p50 / w1->etcd.p50);
  }
  if (w64) {
    std::printf("- replicated writes/s at 64 writers: %.0f (target 5,000 or more)\n",
                w64->replicated.per_second);
  }
  if (w1 && w64) {
    std::printf("- replicated w/s at 64 writers / single Write w/s at 1 writer: %.1f\n",
                w64->replicated.per_second / w1->single.per_second);
  }
  std::printf("- planned failover: longest pause median %.0f ms, transfer call median %.0f ms "
              "(target under 1,000 ms)\n",
              Median(gaps), Median(calls));
  std::printf("- emergency failover: writes unavailable for %.0f ms (target under 5,000 ms)\n",
              em.first_write_ms);
  std::fflush(stdout);

  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) (*it)->Stop(false);
  return 0;
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) { return meridian::bench::Main(argc, argv); }
