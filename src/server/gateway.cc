#include "server/gateway.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>

#include "common/encoding.h"
#include "directory/directory.h"
#include "graph/errors.h"

namespace meridian::server {
namespace {

// Forwarded requests carry this remote address, which no client connection can have.
constexpr char kPeerPrefix[] = "peer:";
// Observe's mark on a response whose write was refused because the primary moved; Finish
// removes it, so it never leaves the node.
constexpr char kRefusedMark[] = "x-meridian-refused-write";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The first path segment: the tenant of /{tenant}/oauth2/..., /{tenant}/discovery/... .
std::string FirstSegment(std::string_view path) {
  if (path.size() < 2) return "";
  size_t end = path.find('/', 1);
  return std::string(path.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
}

// The `tid` claim of a bearer token, unverified; "" when there is none.
std::string UnverifiedTenantOf(const http::Request& req) {
  auto h = req.Header("authorization");
  if (!h || h->size() < 8 || AsciiLower(h->substr(0, 7)) != "bearer ") return "";
  std::string_view jwt = h->substr(7);
  size_t a = jwt.find('.'), b = a == std::string_view::npos ? a : jwt.find('.', a + 1);
  if (b == std::string_view::npos) return "";
  auto payload = Base64UrlDecode(jwt.substr(a + 1, b - a - 1));
  if (!payload) return "";
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*payload, ec);
  const auto* tid = !ec && v.is_object() ? v.as_object().if_contains("tid") : nullptr;
  return tid && tid->is_string() ? std::string(tid->get_string()) : "";
}

// The first value of `name` in an application/x-www-form-urlencoded body; "" when absent or
// malformed.
std::string FormValue(std::string_view body, std::string_view name) {
  for (size_t pos = 0; pos < body.size();) {
    size_t amp = std::min(body.find('&', pos), body.size());
    std::string_view part = body.substr(pos, amp - pos);
    size_t eq = part.find('=');
    auto key = FormUrlDecode(part.substr(0, eq));
    if (key && *key == name) {
      auto value = FormUrlDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
      return value ? *value : "";
    }
    pos = amp + 1;
  }
  return "";
}

void Unavailable(const std::string& why, const http::Request& req, http::Response& res) {
  graph::SetError(Status(Code::kUnavailable, why), req, &res);
  res.headers.emplace_back("Retry-After", "1");
}

}  // namespace

void Gateway::Classify(const http::Request& req, std::string* partition, bool* write,
                       bool* unknown_tenant) const {
  *write = req.method != "GET" && req.method != "HEAD";
  *unknown_tenant = false;
  const std::string& path = req.path;
  std::string tenant;
  if (StartsWith(path, "/v1.0/") || path == "/v1.0") {
    // Routing needs only the token's tenant, not its signature: the node that serves the request
    // verifies the token (a forged `tid` reaches a node that answers 401), so the gateway does not
    // verify it a second time on every request.
    tenant = UnverifiedTenantOf(req);
    if (tenant.empty()) return;  // answered here: 401
  } else if (path == "/operator/v1/tenants") {
    *partition = "global";
    return;
  } else if (StartsWith(path, "/operator/v1/partitions/")) {
    // Moving a partition's primary runs on its primary.
    *partition = FirstSegment(path.substr(std::string_view("/operator/v1/partitions").size()));
    return;
  } else if (StartsWith(path, "/operator/v1/tenants/")) {
    tenant = FirstSegment(path.substr(std::string_view("/operator/v1/tenants").size()));
  } else if (path.find("/oauth2/") != std::string::npos ||
             path.find("/discovery/") != std::string::npos ||
             path.find("/.well-known/") != std::string::npos) {
    // Discovery, keys and the pages a browser GETs only read; so does the client-credentials
    // grant, which any replica serves while a primary is down (zero RTO). Every other POST (the
    // other grants, a sign-in form) redeems or stores single-use state (a code, a refresh token,
    // a lockout count): it goes to the primary.
    *write = path.ends_with("/oauth2/v2.0/token")
                 ? FormValue(req.body, "grant_type") != "client_credentials"
                 : req.method == "POST";
    tenant = FirstSegment(path);
  } else {
    return;
  }
  auto info = directory_->ResolveTenant(tenant);
  if (info.ok()) *partition = info->partition;
  *unknown_tenant = info.status().code() == Code::kNotFound;
}

void Gateway::Route(const http::Request& req, http::Response& res, bool retry,
                    std::function<void(bool here)> then) const {
  if (IsForwarded(req)) {
    return WaitForTenant(req, res, retry, NowMs() + kTenantWaitMs, std::move(then));
  }
  RouteKnown(req, res, retry, std::move(then));
}

void Gateway::WaitForTenant(const http::Request& req, http::Response& res, bool retry,
                            int64_t deadline_ms, std::function<void(bool here)> then) const {
  std::string partition;
  bool write = false, unknown_tenant = false;
  Classify(req, &partition, &write, &unknown_tenant);
  if (!unknown_tenant || NowMs() >= deadline_ms) return RouteKnown(req, res, retry, then);
  node_->After(20, [=, this, &req, &res] { WaitForTenant(req, res, retry, deadline_ms, then); });
}

void Gateway::RouteKnown(const http::Request& req, http::Response& res, bool retry,
                         std::function<void(bool here)> then) const {
  std::string partition;
  bool write = false, unknown_tenant = false;
  bool forwarded = IsForwarded(req) && (!retry || Hops(req) >= 2);
  Classify(req, &partition, &write, &unknown_tenant);
  if (partition.empty()) return then(true);
  // While a primary takes over (a failover, a planned move), a write waits for it here rather
  // than send the client away: a planned move pauses writes for well under a second.
  int64_t deadline = NowMs() + kWriteWaitMs;
  if (auto header = req.Header(replication::kReplicaTokenHeader); header && !write) {
    auto token = replication::DecodeReplicaToken(*header, node_->token_key());
    if (!token.ok()) {
      graph::SetError(InvalidArgument("The replica token is not one this deployment issued."),
                      req, &res);
      return then(false);
    }
    // A token of another partition says nothing about this one.
    if (token->partition == partition) {
      uint64_t lsn = token->lsn;
      return node_->WhenVisible(partition, lsn, kTokenWaitMs, [=, this, &req, &res] {
        Decide(req, res, partition, write, forwarded, lsn, deadline, then);
      });
    }
  }
  Decide(req, res, partition, write, forwarded, 0, deadline, std::move(then));
}

void Gateway::Decide(const http::Request& req, http::Response& res, const std::string& partition,
                     bool write, bool forwarded, uint64_t min_lsn, int64_t deadline_ms,
                     std::function<void(bool here)> then) const {
  if (forwarded) {
    // A peer chose this node; a read still runs only on a replica that may serve it, and that
    // has applied the read's token (a new primary may still be reconciling).
    if (!write && !node_->ReadDestination(partition, min_lsn).local) {
      Unavailable("the replica of partition " + partition + " on this node cannot serve this "
                  "read yet", req, res);
      return then(false);
    }
    return then(true);
  }
  Destination d = write ? node_->WriteDestination(partition)
                        : node_->ReadDestination(partition, min_lsn);
  if (write && d.unavailable && NowMs() < deadline_ms) {
    return node_->After(10, [=, this, &req, &res] {
      Decide(req, res, partition, write, forwarded, min_lsn, deadline_ms, then);
    });
  }
  if (d.local) return then(true);
  if (d.unavailable) {
    Unavailable(d.why, req, res);
    return then(false);
  }
  Forward(d.node, req, res, [=, this, &req, &res] {
    // A replica that cannot serve the read after all (catching up, unreachable): the primary
    // can.
    if (!write && res.status == 503) {
      Destination primary = node_->WriteDestination(partition);
      if (!primary.local && !primary.unavailable && primary.node != d.node) {
        res.headers.clear();
        res.body.clear();
        return Forward(primary.node, req, res, [then] { then(false); });
      }
    }
    then(false);
  });
}

void Gateway::Forward(const std::string& node, const http::Request& req, http::Response& res,
                      std::function<void()> then) const {
  proto::ForwardRequest f;
  f.set_method(req.method);
  f.set_target(req.target);
  for (const auto& [name, value] : req.headers) {
    auto* h = f.add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  f.set_body(req.body);
  f.set_client_address(req.remote_address);
  // The transport answers every call, by its Forward deadline at the latest.
  node_->ForwardTo(
      node, f, [node, &req, &res, then = std::move(then)](Result<proto::ForwardResponse> r) {
        if (!r.ok()) {
          Unavailable("node " + node + " cannot be reached: " + r.status().message(), req, res);
        } else {
          res.status = static_cast<int>(r->status());
          res.body = r->body();
          for (const auto& h : r->headers()) res.headers.emplace_back(h.name(), h.value());
        }
        then();
      });
}

void Gateway::Observe(const Result<directory::WriteResult>& write, http::Response& res) const {
  if (!write.ok()) {
    if (write.status().graph_code() == replication::kNotPrimary) {
      res.headers.emplace_back(kRefusedMark, "1");
    }
    return;
  }
  std::string key = node_->token_key();
  if (key.empty()) return;
  replication::ReplicaToken token{write->partition, write->epoch, write->lsn};
  res.SetHeader(replication::kReplicaTokenHeader, replication::EncodeReplicaToken(token, key));
}

bool Gateway::Finish(http::Response& res) const {
  auto& h = res.headers;
  auto mark =
      std::find_if(h.begin(), h.end(), [](const auto& kv) { return kv.first == kRefusedMark; });
  if (mark == h.end()) return false;
  h.erase(mark);
  return true;
}

Result<http::Request> Gateway::Unwrap(const proto::ForwardRequest& f) {
  http::Request req;
  req.method = f.method();
  MERIDIAN_RETURN_IF_ERROR(http::ParseTarget(f.target(), &req));
  for (const auto& h : f.headers()) req.headers.emplace_back(h.name(), h.value());
  req.body = f.body();
  req.remote_address = kPeerPrefix + f.client_address();
  return req;
}

bool Gateway::IsForwarded(const http::Request& req) {
  return StartsWith(req.remote_address, kPeerPrefix);
}

int Gateway::Hops(const http::Request& req) {
  int hops = 0;
  for (std::string_view a = req.remote_address; StartsWith(a, kPeerPrefix);
       a.remove_prefix(std::string_view(kPeerPrefix).size())) {
    ++hops;
  }
  return hops;
}

proto::ForwardResponse Gateway::Wrap(const http::Response& res) {
  proto::ForwardResponse f;
  f.set_status(static_cast<uint32_t>(res.status));
  f.set_body(res.body);
  for (const auto& [name, value] : res.headers) {
    auto* h = f.add_headers();
    h->set_name(name);
    h->set_value(value);
  }
  return f;
}

}  // namespace meridian::server
