// ClusterNode: what makes a Meridian process one node of a cluster.
//
// It registers the node in etcd under a lease (its liveness), serves its peers over gRPC with
// mutual TLS, runs a Replica for every partition the node holds (its region's, and the global
// partition) and a Controller, and routes each partition's writes through its replica: a
// directory write on this node proposes on the local replica, and its outcome (committed: durable
// here and on the sync set, at a position that becomes the write's replica token) arrives on the
// node's completions thread; no thread waits for it.
//
// For the request path it answers where a request must go: the primary of a partition for a
// write, a replica that has applied a token's LSN for a read. It forwards a request to another
// node whole (Forward), and runs requests other nodes forward to it through `serve`.
//
// Thread-safe. Replicas and the controller run on the node's ThreadLoop.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/replication.pb.h"
#include "replication/config_store.h"
#include "replication/placement.h"
#include "replication/replica.h"
#include "replication/replica_token.h"
#include "replication/transport.h"

namespace meridian::directory {
class Directory;
}
namespace meridian::http {
class Metrics;
}

namespace meridian::server {

struct ClusterOptions {
  std::string cluster = "meridian";  // names the etcd keys; sovereign clouds use their own etcd
  std::string node;                  // this node's id (its certificate's name)
  std::string cloud = "global";
  std::string region;                // region code of this node ("emea", "na", ...)
  std::string datacenter;
  std::vector<std::string> etcd;     // etcd endpoints, host:port
  std::string peer_listen = "127.0.0.1:0";  // gRPC (mutual TLS) listener
  std::string peer_advertise;        // host:port peers dial; default: the listener's
  std::string http_advertise;        // host:port clients and peers reach HTTPS on
  std::string certs_dir;             // ca.pem, <node>.pem, <node>.key (meridian cluster certs)
  // The key-encryption key file, the same on every node (server/kek_config.h); empty: the
  // MERIDIAN_KEK variable must hold the key.
  std::string kek_file;
  // The one URL clients use for every node (a load balancer's, say): tokens name it as their
  // issuer, and any node must accept what another issued.
  std::string public_url;
  int lease_ttl_seconds = 2;         // a node silent this long is failed over
  size_t sync_members = 1;           // per partition, at first placement
  int partitions_per_region = 2;
  int64_t write_timeout_ms = 10000;  // a write not committed by then fails (outcome unknown)
};

// Where a request goes.
struct Destination {
  bool local = true;
  std::string node;  // when not local
  std::string why;   // when no node can take it: the 503's message
  bool unavailable = false;
};

// What a node last read from etcd (refreshed every 200 ms): each partition's configuration and
// the live nodes. A copy; empty before the first read.
struct ClusterView {
  std::map<std::string, replication::VersionedConfig> configs;
  replication::NodeMap nodes;
};

class ClusterNode final : public replication::Service {
 public:
  // Runs a request forwarded by a peer through this node's own request path.
  using Serve = std::function<void(const proto::ForwardRequest&,
                                   replication::Reply<proto::ForwardResponse>)>;

  static Result<std::unique_ptr<ClusterNode>> Start(ClusterOptions options,
                                                    directory::Directory* directory,
                                                    Serve serve);
  ~ClusterNode() override;

  const ClusterOptions& options() const { return options_; }

  // Where a write to `partition` must run: here when this node's replica is the primary taking
  // writes, else the primary the configuration names.
  Destination WriteDestination(const std::string& partition) const;
  // Where a read of `partition` may run: here when this node holds a readable replica that has
  // applied `min_lsn`; else another member, the primary last.
  Destination ReadDestination(const std::string& partition, uint64_t min_lsn) const;
  // Calls `then` once the local replica of `partition` is readable and has applied `lsn`, or
  // after `timeout_ms`: at once on this thread when it already has (or the node holds no such
  // replica), else on the node's completions thread.
  void WhenVisible(const std::string& partition, uint64_t lsn, int64_t timeout_ms,
                   std::function<void()> then) const;
  // Runs `fn` after `delay_ms` on the node's completions thread (never the replication loop's);
  // dropped when the node stops first.
  void After(int64_t delay_ms, std::function<void()> fn) const;

  // Planned failover of `partition`, run on its primary: stops its writes, waits until `target`
  // holds every entry, and hands it the primary. Returns how long writes were refused here.
  // kFailedPrecondition when this node is not the primary or `target` is not a caught-up member;
  // kUnavailable when the target does not catch up within `timeout_ms`.
  Result<int64_t> MovePrimary(const std::string& partition, const std::string& target,
                              int64_t timeout_ms);

  void ForwardTo(const std::string& node, const proto::ForwardRequest& request,
                 replication::Reply<proto::ForwardResponse> reply);

  // The key replica tokens are MAC'd with (a secret of the deployment); empty until the
  // directory is bootstrapped.
  void SetTokenKey(std::string key);
  std::string token_key() const;

  // The configurations and live nodes as last read (read-only: for reports, not routing).
  ClusterView View() const;

  // Ready when every local replica is readable and plays a role in its partition.
  meridian::Status Ready() const;
  void RegisterMetrics(http::Metrics* metrics);

  // replication::Service.
  void Append(const proto::AppendRequest& request,
              std::function<void(proto::AppendResponse)> reply) override;
  void Status(const proto::ReplicaStatusRequest& request,
              replication::Reply<proto::ReplicaStatus> reply) override;
  void FetchCheckpoint(const proto::CheckpointRequest& request,
                       replication::Reply<std::unique_ptr<replication::CheckpointReader>> reply) override;
  void Forward(const proto::ForwardRequest& request,
               replication::Reply<proto::ForwardResponse> reply) override;

  struct Impl;

 private:
  explicit ClusterNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  const ClusterOptions& options_;
};

// Reads a node's configuration file (TOML; see docs/cluster.md). kInvalidArgument naming the key
// that is missing or malformed.
Result<ClusterOptions> LoadClusterConfig(const std::string& path, std::string* data_dir,
                                         std::string* http_listen);

}  // namespace meridian::server
