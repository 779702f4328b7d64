// The real node-to-node transport: replication::Transport and replication::Service over gRPC
// (the callback API) with mutual TLS under the cluster CA (cluster_certs.h). A client trusts only
// the cluster CA and dials a peer by its node id: the peer's certificate must name that id in its
// subjectAltName, whatever address it is reached at. A server accepts only clients that present
// a certificate of the cluster CA.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "replication/transport.h"
#include "rpc/cluster_certs.h"

namespace meridian::rpc {

struct GrpcTransportOptions {
  NodeCredentials credentials;  // this node's identity and the cluster CA
  // Deadline of each Append and Status call; past it the call fails with kUnavailable.
  std::chrono::milliseconds call_timeout{5000};
  // Deadline of a Forward: the peer runs the whole client request, which may wait for a primary
  // taking over and for its commit.
  std::chrono::milliseconds forward_timeout{15000};
  // Deadline of a whole FetchCheckpoint stream.
  std::chrono::milliseconds checkpoint_timeout{std::chrono::minutes(10)};
  // The largest message received (an Append response, a checkpoint chunk).
  int max_message_bytes = 64 << 20;
};

// GrpcTransport: the sending side of one node. Keeps an address book (node id -> "host:port")
// and one gRPC channel per peer, made on the first call to that peer.
//
// Every call completes exactly once through its callback, on a gRPC thread or (for a peer with no
// address, or after destruction began) on the caller's: the peer's answer, or kUnavailable when
// there is no address for the peer, it cannot be reached, the TLS handshake fails (a certificate
// that is not the cluster CA's, or that does not name the peer's id), or the deadline passes;
// other errors as the peer's service returned them (grpc_status.h).
//
// Thread safety: every method may be called from any thread at once. The destructor cancels the
// calls in flight and waits until each has completed (usually with kUnavailable); it must not run
// on one of this transport's callbacks.
class GrpcTransport final : public replication::Transport {
 public:
  explicit GrpcTransport(GrpcTransportOptions options);
  ~GrpcTransport() override;
  GrpcTransport(const GrpcTransport&) = delete;
  GrpcTransport& operator=(const GrpcTransport&) = delete;

  // Sets or replaces the address of `node`. Calls started afterwards use it; calls in flight
  // finish on the old connection.
  void SetPeerAddress(const std::string& node, const std::string& address);
  // Forgets `node`: later calls to it fail with kUnavailable.
  void RemovePeer(const std::string& node);

  void Append(const std::string& to, const proto::AppendRequest& request,
              replication::Reply<proto::AppendResponse> reply) override;
  void Status(const std::string& to, const proto::ReplicaStatusRequest& request,
              replication::Reply<proto::ReplicaStatus> reply) override;
  // The chunks reach `sink` in order, on gRPC threads, one at a time. An error from the sink
  // cancels the stream and is what `done` receives.
  void FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                       replication::CheckpointWriter* sink,
                       std::function<void(meridian::Status)> done) override;
  void Forward(const std::string& to, const proto::ForwardRequest& request,
               replication::Reply<proto::ForwardResponse> reply) override;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

struct GrpcServerOptions {
  std::string listen_address = "127.0.0.1:0";  // host:port; port 0 picks a free one
  NodeCredentials credentials;                 // this node's identity and the cluster CA
  // How long Shutdown lets calls in flight finish before it cancels them.
  std::chrono::milliseconds shutdown_grace{2000};
  int max_message_bytes = 64 << 20;  // the largest request received
};

// GrpcServer: serves a replication::Service to peers. Each request from a client whose
// certificate verifies against the cluster CA becomes one call of the service, on a gRPC thread;
// the service may answer at once or later from any thread. A request that is cancelled (the
// client's deadline, the client going away, Shutdown) is answered with CANCELLED, and the
// service's later reply is dropped. A FetchCheckpoint stream reads its CheckpointReader on gRPC
// threads, one chunk written at a time.
//
// Thread safety: port() and Shutdown() may be called from any thread, but not from a call of the
// service. The service must outlive the server.
class GrpcServer {
 public:
  // Listens on options.listen_address. kUnavailable when it cannot listen there (the address is
  // taken or does not parse, or gRPC refused the credentials).
  static Result<std::unique_ptr<GrpcServer>> Start(GrpcServerOptions options,
                                                   replication::Service* service);
  ~GrpcServer();  // Shutdown()
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The port bound.
  int port() const;

  // Stops taking calls, lets the calls in flight finish for up to shutdown_grace, cancels the
  // rest, and returns once no call is running and no callback of the server will run again
  // (a service's reply that comes later is dropped). Idempotent.
  void Shutdown();

 private:
  class Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::rpc
