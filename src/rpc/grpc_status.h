// The one table between Meridian's Status codes and gRPC's, for both sides of node-to-node
// calls. Stateless functions, safe from any thread.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace meridian::rpc {

// What a failed call means to its caller: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED and ABORTED
// (the peer could not be reached or did not answer in time; a failed TLS handshake is one of
// these) are kUnavailable; the codes with a Meridian twin map to it; the rest (UNKNOWN, INTERNAL,
// DATA_LOSS, UNIMPLEMENTED) are kInternal. The message names the gRPC code. An OK status is Ok.
Status FromGrpcStatus(const grpc::Status& status);

// How a service's error travels back to the caller; the inverse of FromGrpcStatus where one
// exists (kTooLarge is RESOURCE_EXHAUSTED, kMethodNotAllowed and kUnsupported are UNIMPLEMENTED).
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace meridian::rpc
