// Router: maps (method, path) to a handler by route patterns such as
// "/v1.0/users/{id}/memberOf" or "/{tenant}/oauth2/v2.0/token", and answers 404 and 405 itself.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace meridian::http {

// The values of the {name} segments of the route that matched. Views point into the route
// table and the Request's path, so a RouteParams is valid only during the handler call.
class RouteParams {
 public:
  static constexpr size_t kMaxParams = 8;

  // The value of parameter `name`, or "" when the route has no such parameter.
  std::string_view Get(std::string_view name) const;
  size_t size() const { return size_; }
  // Adds a parameter (for the router, and for tests that call a handler directly). Aborts past
  // kMaxParams.
  void Add(std::string_view name, std::string_view value);

 private:
  std::array<std::pair<std::string_view, std::string_view>, kMaxParams> items_{};
  size_t size_ = 0;
};

// A route table. Patterns are "/"-separated segments; a segment "{name}" matches any one
// non-empty segment of the decoded path and binds it to `name`; any other segment is a literal
// matched ASCII case-insensitively ("$count", "$ref" and the like are ordinary literals). When
// both could match, a literal beats a parameter, with backtracking: "/v1.0/users/$count" wins
// for "/v1.0/users/$count", and "/v1.0/users/{id}/memberOf" still serves
// "/v1.0/users/$count/memberOf". Method names are case-sensitive; HEAD falls back to GET.
//
// Thread safety: Add() must not run concurrently with anything else; once the table is built,
// Dispatch() is safe from any number of threads. Handlers are owned by the Router.
class Router {
 public:
  using Handler = std::function<void(const Request&, const RouteParams&, Response&)>;
  // A handler that may finish later, on another thread: it calls `done` exactly once, when the
  // Response is ready. The RouteParams are valid only during the call; the Request and Response
  // until `done`.
  using AsyncHandler = std::function<void(const Request&, const RouteParams&, Response&,
                                          std::function<void()> done)>;

  Router();
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Registers `handler` for `method` and `pattern`. A malformed pattern (not starting with '/',
  // an empty segment, a malformed or repeated {name}, more than kMaxParams parameters) or a
  // duplicate (method, pattern shape) is a programming error and aborts the process.
  void Add(std::string method, std::string pattern, Handler handler);
  void AddAsync(std::string method, std::string pattern, AsyncHandler handler);

  // Runs the handler for req.method and req.path. When no pattern matches the path, sets a 404;
  // when patterns match but none for the method, sets a 405 with an Allow header. Both have a
  // Graph-shaped JSON body {"error":{"code":...,"message":...}}. Stores in res.route_label, and
  // returns, the pattern of the matched route (also for a 405), or "unmatched"; the view stays
  // valid as long as the Router.
  // Exceptions from the handler propagate. `done` runs once the Response is ready: before
  // Dispatch returns, except for an AsyncHandler that finishes later.
  std::string_view Dispatch(
      const Request& req, Response& res, const std::function<void()>& done = [] {}) const;

 private:
  struct Node;
  struct Route;
  std::unique_ptr<Node> root_;
};

}  // namespace meridian::http
