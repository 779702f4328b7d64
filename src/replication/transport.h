// Transport: how replicas talk to each other. gRPC over mutual TLS between nodes (rpc/); an
// in-memory network with seeded delays, drops and partitions in the simulation (replication/sim/).
//
// Every call completes exactly once through its callback, with the peer's answer or an error
// (kUnavailable when the peer cannot be reached or the deadline passes). Callbacks may run on any
// thread; a caller must not assume it is called before or after the call returns.
#pragma once

#include <functional>
#include <string>

#include "common/status.h"
#include "meridian/replication.pb.h"
#include "replication/replica_store.h"

namespace meridian::replication {

template <typename T>
using Reply = std::function<void(Result<T>)>;

// The sending side, one per node.
class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Append(const std::string& to, const proto::AppendRequest& request,
                      Reply<proto::AppendResponse> reply) = 0;
  virtual void Status(const std::string& to, const proto::ReplicaStatusRequest& request,
                      Reply<proto::ReplicaStatus> reply) = 0;
  // Streams the peer's checkpoint into `sink` (which outlives the call), then calls `done`.
  virtual void FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                               CheckpointWriter* sink,
                               std::function<void(meridian::Status)> done) = 0;
  virtual void Forward(const std::string& to, const proto::ForwardRequest& request,
                       Reply<proto::ForwardResponse> reply) = 0;
};

// The receiving side: what a node serves to its peers. The transport calls these for requests
// from authenticated peers only.
class Service {
 public:
  virtual ~Service() = default;
  virtual void Append(const proto::AppendRequest& request,
                      std::function<void(proto::AppendResponse)> reply) = 0;
  virtual void Status(const proto::ReplicaStatusRequest& request,
                      Reply<proto::ReplicaStatus> reply) = 0;
  // A reader positioned at a committed point, or an error (not primary, stale epoch).
  virtual void FetchCheckpoint(const proto::CheckpointRequest& request,
                               Reply<std::unique_ptr<CheckpointReader>> reply) = 0;
  virtual void Forward(const proto::ForwardRequest& request,
                       Reply<proto::ForwardResponse> reply) = 0;
};

}  // namespace meridian::replication
