// Request and Response: the plain data that passes between the HTTPS server and the handlers of
// every other module. No Asio or Beast type appears here, so handlers compile without them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace meridian::http {

// One HTTP request, fully read. The server fills it in and hands it to a handler as a const
// reference; it is valid until the handler's Done is called (the server then reuses its
// storage for the next request on the connection). A plain value otherwise: not synchronized.
struct Request {
  std::string method;  // as sent, case-sensitive ("GET", "POST", ...)
  std::string target;  // the raw request-target: "/v1.0/users?%24top=5"
  std::string path;    // percent-decoded path of `target`: "/v1.0/users"
  // Percent-decoded query parameters ('+' decodes to a space), in order, duplicates kept.
  std::vector<std::pair<std::string, std::string>> query;
  // Header fields in order of arrival, names as sent. Use Header() for lookups.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote_address;  // "ip:port" of the peer

  // The value of the first header named `name` (ASCII case-insensitive), or nullopt. The view
  // points into this Request.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// The value of the first query parameter named exactly `name` (case-sensitive), or nullopt.
std::optional<std::string> QueryParam(const Request& req, std::string_view name);

// Sets req->target, req->path and req->query from a request-target in origin form ("/a/b?x=1")
// or absolute form ("https://host/a/b?x=1"). Reuses the storage already in *req. Fails with
// kInvalidArgument on any other form, a malformed or NUL-producing percent escape, or a target
// with control characters; *req is then unspecified.
Status ParseTarget(std::string_view target, Request* req);

// The response a handler fills in. The server has already set `request_id` (and the matching
// "request-id" header) when the handler runs. A plain value: not synchronized.
struct Response {
  int status = 200;
  // Extra header fields. The server owns Content-Length, Transfer-Encoding, Connection, Date and
  // Server and ignores handler values for them; it adds Content-Type (application/json, when the
  // body is non-empty), request-id and Strict-Transport-Security when the handler did not.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The route pattern that served the request ("/v1.0/users/{id}"), used as the metrics label;
  // Router::Dispatch stores it.
  std::string route_label = "unmatched";
  // This request's id (a fresh UUID), also sent as the "request-id" response header.
  std::string request_id;

  // Sets the status and a JSON body, and sets Content-Type to application/json (replacing an
  // earlier Content-Type header).
  void SetJson(int status, std::string body);
  // Sets header `name` to `value`, replacing the first header of that name (case-insensitive)
  // or appending one.
  void SetHeader(std::string_view name, std::string value);
};

}  // namespace meridian::http
