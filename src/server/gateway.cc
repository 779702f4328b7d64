#include "server/gateway.h"

#include <future>
#include <thread>

#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/directory.h"
#include "graph/errors.h"

namespace meridian::server {
namespace {

// Forwarded requests carry this remote address, which no client connection can have.
constexpr char kPeerPrefix[] = "peer:";
// A little over the transport's Forward deadline, which always answers first.
constexpr int64_t kForwardTimeoutMs = 16000;

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

void Unavailable(const std::string& why, const http::Request& req, http::Response& res) {
  graph::SetError(Status(Code::kUnavailable, why), req, &res);
  res.headers.emplace_back("Retry-After", "1");
}

}  // namespace

void Gateway::Classify(const http::Request& req, std::string* partition, bool* write) const {
  *write = req.method != "GET" && req.method != "HEAD";
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
  } else if (path.find("/oauth2/") != std::string::npos || path.find("/discovery/") != std::string::npos ||
             path.find("/.well-known/") != std::string::npos) {
    // Token issuance and discovery only read: any replica serves them, the primary not needed.
    *write = false;
    tenant = FirstSegment(path);
  } else {
    return;
  }
  auto info = directory_->ResolveTenant(tenant);
  if (info.ok()) *partition = info->partition;
}

bool Gateway::Route(const http::Request& req, http::Response& res, bool retry) const {
  std::string partition;
  bool write = false;
  bool forwarded = IsForwarded(req) && (!retry || Hops(req) >= 2);
  Classify(req, &partition, &write);
  if (partition.empty()) return false;
  uint64_t min_lsn = 0;
  if (auto header = req.Header(replication::kReplicaTokenHeader); header && !write) {
    auto token = replication::DecodeReplicaToken(*header, node_->token_key());
    if (!token.ok()) {
      graph::SetError(InvalidArgument("The replica token is not one this deployment issued."),
                      req, &res);
      return true;
    }
    // A token of another partition says nothing about this one.
    if (token->partition == partition) {
      min_lsn = token->lsn;
      node_->WaitVisible(partition, min_lsn, kTokenWaitMs);
    }
  }
  if (forwarded) {
    // A peer chose this node; a read still runs only on a replica that may serve it, and that
    // has applied the read's token (a new primary may still be reconciling).
    if (!write && !node_->ReadDestination(partition, min_lsn).local) {
      Unavailable("the replica of partition " + partition + " on this node cannot serve this "
                  "read yet", req, res);
      return true;
    }
    return false;
  }
  Destination d = write ? node_->WriteDestination(partition)
                        : node_->ReadDestination(partition, min_lsn);
  // While a primary takes over (a failover, a planned move), a write waits for it here rather
  // than send the client away: a planned move pauses writes for well under a second.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWriteWaitMs);
  while (write && d.unavailable && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    d = node_->WriteDestination(partition);
  }
  if (d.local) return false;
  if (d.unavailable) {
    Unavailable(d.why, req, res);
    return true;
  }
  Forward(d.node, req, res);
  // A replica that cannot serve the read after all (catching up, unreachable): the primary can.
  if (!write && res.status == 503) {
    Destination primary = node_->WriteDestination(partition);
    if (!primary.local && !primary.unavailable && primary.node != d.node) {
      res.headers.clear();
      res.body.clear();
      Forward(primary.node, req, res);
    }
  }
  return true;
}

void Gateway::Forward(const std::string& node, const http::Request& req,
                      http::Response& res) const {
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
  auto promise = std::make_shared<std::promise<Result<proto::ForwardResponse>>>();
  auto future = promise->get_future();
  node_->ForwardTo(node, f, [promise](Result<proto::ForwardResponse> r) { promise->set_value(r); });
  if (future.wait_for(std::chrono::milliseconds(kForwardTimeoutMs)) != std::future_status::ready) {
    return Unavailable("node " + node + " did not answer in time", req, res);
  }
  auto r = future.get();
  if (!r.ok()) {
    return Unavailable("node " + node + " cannot be reached: " + r.status().message(), req, res);
  }
  res.status = static_cast<int>(r->status());
  res.body = r->body();
  for (const auto& h : r->headers()) res.headers.emplace_back(h.name(), h.value());
}

bool Gateway::Finish(http::Response& res) const {
  if (ClusterNode::TakeRefusedWrite()) return true;
  auto token = ClusterNode::TakeLastWrite();
  std::string key = node_->token_key();
  if (token && !key.empty()) {
    res.headers.emplace_back(replication::kReplicaTokenHeader,
                             replication::EncodeReplicaToken(*token, key));
  }
  return false;
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
