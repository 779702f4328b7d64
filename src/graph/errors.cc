#include "graph/errors.h"

#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include "common/clock.h"

namespace meridian::graph {
namespace json = boost::json;

int HttpStatus(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument: return 400;
    case Code::kUnsupported: return 400;
    case Code::kAlreadyExists: return 400;  // Graph answers uniqueness conflicts with 400
    case Code::kUnauthenticated: return 401;
    case Code::kPermissionDenied: return 403;
    case Code::kNotFound: return 404;
    case Code::kMethodNotAllowed: return 405;
    case Code::kFailedPrecondition: return 412;
    case Code::kTooLarge: return 413;
    case Code::kResourceExhausted: return 429;
    case Code::kUnavailable: return 503;
    case Code::kInternal: return 500;
  }
  return 500;
}

std::string DefaultGraphCode(Code code) {
  switch (code) {
    case Code::kInvalidArgument: return "Request_BadRequest";
    case Code::kUnsupported: return "Request_UnsupportedQuery";
    case Code::kAlreadyExists: return "Request_BadRequest";
    case Code::kUnauthenticated: return "InvalidAuthenticationToken";
    case Code::kPermissionDenied: return "Authorization_RequestDenied";
    case Code::kNotFound: return "Request_ResourceNotFound";
    case Code::kMethodNotAllowed: return "Request_BadRequest";
    case Code::kFailedPrecondition: return "Request_PreconditionFailed";
    case Code::kTooLarge: return "Request_EntityTooLarge";
    case Code::kResourceExhausted: return "TooManyRequests";
    case Code::kUnavailable: return "ServiceUnavailable";
    default: return "InternalServerError";
  }
}

void SetError(const Status& status, const http::Request& req, http::Response* res) {
  json::object inner{{"date", FormatIso8601(SystemClock::Default()->NowMillis())},
                     {"request-id", res->request_id}};
  if (auto c = req.Header("client-request-id")) inner["client-request-id"] = std::string(*c);
  std::string code = status.graph_code().empty() ? DefaultGraphCode(status.code())
                                                 : status.graph_code();
  // Internal details stay in the log, not in the response; every 500 is logged with its id.
  if (status.code() == Code::kInternal) {
    spdlog::error("request {} {} {}: internal error: {}", res->request_id, req.method, req.path,
                  status.message());
  }
  std::string message = status.code() == Code::kInternal ? "An internal error occurred."
                                                         : status.message();
  json::object body{{"error", {{"code", code}, {"message", message}, {"innerError", inner}}}};
  res->SetJson(HttpStatus(status.code()), json::serialize(body));
  if (status.code() == Code::kResourceExhausted || status.code() == Code::kUnavailable) {
    res->SetHeader("Retry-After", "1");
  }
  if (status.code() == Code::kUnauthenticated) {
    res->headers.emplace_back("WWW-Authenticate",
                              "Bearer realm=\"\", error=\"invalid_token\"");
  }
}

}  // namespace meridian::graph
