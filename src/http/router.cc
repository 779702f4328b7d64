#include "http/router.h"

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

#include "common/encoding.h"

namespace meridian::http {
namespace json = boost::json;

namespace {

constexpr std::string_view kUnmatched = "unmatched";

[[noreturn]] void BadPattern(const std::string& method, const std::string& pattern,
                             const char* why) {
  std::fprintf(stderr, "http::Router::Add(%s, %s): %s\n", method.c_str(), pattern.c_str(), why);
  std::abort();
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `lower` is already lower case.
bool EqualsLowered(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (Lower(s[i]) != lower[i]) return false;
  }
  return true;
}

bool IsParamName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

void SetError(Response& res, int status, std::string_view code, std::string message) {
  json::object body{{"error", {{"code", code}, {"message", std::move(message)}}}};
  res.SetJson(status, json::serialize(body));
}

}  // namespace

std::string_view RouteParams::Get(std::string_view name) const {
  for (size_t i = 0; i < size_; ++i) {
    if (items_[i].first == name) return items_[i].second;
  }
  return {};
}

void RouteParams::Add(std::string_view name, std::string_view value) {
  if (size_ == kMaxParams) {
    std::fprintf(stderr, "http::RouteParams: more than %zu parameters\n", kMaxParams);
    std::abort();
  }
  items_[size_++] = {name, value};
}

struct Router::Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> param_names;  // in path order
  AsyncHandler handler;
};

struct Router::Node {
  // Literal children, keyed by the lower-cased segment; few per node, so a vector beats a map.
  std::vector<std::pair<std::string, std::unique_ptr<Node>>> literals;
  std::unique_ptr<Node> param;
  std::vector<Route> routes;  // one per method registered for the path ending here
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::Add(std::string method, std::string pattern, Handler handler) {
  AddAsync(std::move(method), std::move(pattern),
           [handler = std::move(handler)](const Request& req, const RouteParams& params,
                                          Response& res, const std::function<void()>& done) {
             handler(req, params, res);
             done();
           });
}

void Router::AddAsync(std::string method, std::string pattern, AsyncHandler handler) {
  if (method.empty()) BadPattern(method, pattern, "empty method");
  if (pattern.empty() || pattern[0] != '/') BadPattern(method, pattern, "must start with '/'");
  Route route;
  Node* node = root_.get();
  if (pattern != "/") {
    std::string_view rest = std::string_view(pattern).substr(1);
    while (true) {
      size_t slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      if (seg.empty()) BadPattern(method, pattern, "empty segment");
      if (seg.front() == '{') {
        std::string_view name = seg.substr(1, seg.size() - 1);
        if (name.empty() || name.back() != '}') BadPattern(method, pattern, "unclosed '{'");
        name.remove_suffix(1);
        if (!IsParamName(name)) BadPattern(method, pattern, "bad parameter name");
        for (const auto& n : route.param_names) {
          if (n == name) BadPattern(method, pattern, "repeated parameter name");
        }
        if (route.param_names.size() == RouteParams::kMaxParams) {
          BadPattern(method, pattern, "too many parameters");
        }
        route.param_names.emplace_back(name);
        if (!node->param) node->param = std::make_unique<Node>();
        node = node->param.get();
      } else {
        if (seg.find_first_of("{}") != std::string_view::npos) {
          BadPattern(method, pattern, "'{' or '}' inside a literal segment");
        }
        std::string lower = AsciiLower(seg);
        Node* next = nullptr;
        for (auto& [lit, child] : node->literals) {
          if (lit == lower) next = child.get();
        }
        if (!next) {
          node->literals.emplace_back(std::move(lower), std::make_unique<Node>());
          next = node->literals.back().second.get();
        }
        node = next;
      }
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }
  for (const auto& r : node->routes) {
    if (r.method == method) BadPattern(method, pattern, "duplicate route");
  }
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.handler = std::move(handler);
  node->routes.push_back(std::move(route));
}

namespace {

// Depth-first search over the route tree, literals before the parameter at every level.
template <typename Node, typename Route>
struct Matcher {
  std::string_view path;
  std::string_view method;
  std::array<std::string_view, RouteParams::kMaxParams> values{};
  size_t depth = 0;
  const Route* found = nullptr;
  const Node* path_match = nullptr;  // the first node whose pattern matches the whole path

  const Route* ForMethod(const Node* n) const {
    for (const auto& r : n->routes) {
      if (r.method == method) return &r;
    }
    if (method == "HEAD") {
      for (const auto& r : n->routes) {
        if (r.method == "GET") return &r;
      }
    }
    return nullptr;
  }

  // `pos` is where the next segment of `path` starts, npos once the path is consumed.
  bool Walk(const Node* n, size_t pos) {
    if (pos == std::string_view::npos) {
      if (n->routes.empty()) return false;
      if (!path_match) path_match = n;
      found = ForMethod(n);
      return found != nullptr;
    }
    size_t slash = path.find('/', pos);
    std::string_view seg =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (seg.empty()) return false;
    size_t next = slash == std::string_view::npos ? slash : slash + 1;
    for (const auto& [lit, child] : n->literals) {
      if (EqualsLowered(seg, lit) && Walk(child.get(), next)) return true;
    }
    if (n->param && depth < values.size()) {
      values[depth++] = seg;
      if (Walk(n->param.get(), next)) return true;
      --depth;
    }
    return false;
  }
};

}  // namespace

std::string_view Router::Dispatch(const Request& req, Response& res,
                                  const std::function<void()>& done) const {
  Matcher<Node, Route> m;
  m.path = req.path;
  m.method = req.method;
  bool ok = false;
  if (req.path == "/") {
    ok = m.Walk(root_.get(), std::string_view::npos);
  } else if (!req.path.empty() && req.path[0] == '/') {
    ok = m.Walk(root_.get(), 1);
  }
  if (ok) {
    RouteParams params;
    for (size_t i = 0; i < m.found->param_names.size(); ++i) {
      params.Add(m.found->param_names[i], m.values[i]);
    }
    res.route_label = m.found->pattern;  // before the handler: `done` may finish the exchange
    m.found->handler(req, params, res, done);
    return m.found->pattern;
  }
  if (m.path_match) {
    std::string allow;
    bool has_get = false, has_head = false;
    for (const auto& r : m.path_match->routes) {
      if (!allow.empty()) allow += ", ";
      allow += r.method;
      has_get |= r.method == "GET";
      has_head |= r.method == "HEAD";
    }
    if (has_get && !has_head) allow += ", HEAD";
    SetError(res, 405, "Request_BadRequest",
             "The method '" + req.method + "' is not allowed on this resource.");
    res.SetHeader("Allow", std::move(allow));
    res.route_label = m.path_match->routes.front().pattern;
    done();
    return m.path_match->routes.front().pattern;
  }
  SetError(res, 404, "Request_ResourceNotFound",
           "No resource matches the path '" + req.path + "'.");
  res.route_label = std::string(kUnmatched);
  done();
  return kUnmatched;
}

}  // namespace meridian::http
