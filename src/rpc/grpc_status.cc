#include "rpc/grpc_status.h"

#include <string>

namespace meridian::rpc {

Status FromGrpcStatus(const grpc::Status& status) {
  Code code = Code::kInternal;
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
      code = Code::kUnavailable;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE:
      code = Code::kInvalidArgument;
      break;
    case grpc::StatusCode::NOT_FOUND:
      code = Code::kNotFound;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      code = Code::kAlreadyExists;
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      code = Code::kPermissionDenied;
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      code = Code::kUnauthenticated;
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
      code = Code::kFailedPrecondition;
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      code = Code::kResourceExhausted;
      break;
    default:  // UNKNOWN, INTERNAL, DATA_LOSS, UNIMPLEMENTED
      code = Code::kInternal;
      break;
  }
  return Status(code, "gRPC " + std::to_string(static_cast<int>(status.error_code())) + ": " +
                          status.error_message());
}

grpc::Status ToGrpcStatus(const Status& status) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (status.code()) {
    case Code::kOk:
      return grpc::Status::OK;
    case Code::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case Code::kUnauthenticated:
      code = grpc::StatusCode::UNAUTHENTICATED;
      break;
    case Code::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case Code::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case Code::kMethodNotAllowed:
    case Code::kUnsupported:
      code = grpc::StatusCode::UNIMPLEMENTED;
      break;
    case Code::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case Code::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case Code::kTooLarge:
    case Code::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case Code::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case Code::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return grpc::Status(code, status.message());
}

}  // namespace meridian::rpc
