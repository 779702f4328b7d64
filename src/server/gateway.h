// Gateway: on a cluster node, where each request runs (DESIGN.md, "gateway" role).
//
// A request touches one partition: the Graph API the partition of the bearer token's tenant, the
// token and discovery endpoints the partition of the tenant in their path, tenant creation the
// global partition. A write runs on that partition's primary and a read on a replica that can
// serve it: here when this node holds one, else on another node, to which the request is
// forwarded whole over the node-to-node channel. A read that carries a replica token is served
// here only once the local replica has applied the token's LSN (waiting a bounded time), else by
// the primary. Every response to a write that committed carries the write's replica token.
//
// No thread waits: a wait for a replica to catch up or for a primary to take over polls on the
// node's completions thread, and a forwarded request's answer arrives on a transport thread.
//
// Thread-safe.
#pragma once

#include <string>

#include "directory/api.h"
#include "http/message.h"
#include "server/cluster_node.h"

namespace meridian::directory {
class Directory;
}

namespace meridian::server {

class Gateway {
 public:
  Gateway(ClusterNode* node, directory::Directory* directory)
      : node_(node), directory_(directory) {}

  // Decides where `req` runs: calls `then(true)` when it runs here; otherwise answers `res`
  // (forwarded whole to another node, or refused: 503 when no node can take it now, 400 for a
  // malformed replica token) and calls `then(false)`. `then` runs on this thread when the
  // decision is immediate, else later on another thread. A forwarded request runs here, unless
  // `retry` says it was refused here because the primary moved meanwhile: then it may go on once
  // more (never a third hop).
  void Route(const http::Request& req, http::Response& res, bool retry,
             std::function<void(bool here)> then) const;
  // The Graph API's write observer: adds a committed write's replica token to the response, and
  // marks a write refused because this node's replica is not the primary (nothing was logged).
  void Observe(const Result<directory::WriteResult>& write, http::Response& res) const;
  // After a request ran here: true when Observe marked its write refused (the mark is removed):
  // the caller routes it again.
  bool Finish(http::Response& res) const;

  // Turns a forwarded request into the request this node serves, marked as forwarded so that it
  // is never forwarded again.
  static Result<http::Request> Unwrap(const proto::ForwardRequest& forwarded);
  static bool IsForwarded(const http::Request& req);
  // How many nodes forwarded `req` on its way here.
  static int Hops(const http::Request& req);
  static proto::ForwardResponse Wrap(const http::Response& res);

  // How long a read with a replica token waits for the local replica before going to the
  // primary.
  static constexpr int64_t kTokenWaitMs = 500;
  // How long a write waits for its partition to have a primary taking writes before a 503.
  static constexpr int64_t kWriteWaitMs = 3000;
  // How long a forwarded request naming a tenant this node does not know waits for the global
  // replica here to learn it: the forwarding node knew it, so this one lags (a tenant just
  // created, say).
  static constexpr int64_t kTenantWaitMs = 2000;

 private:
  // The partition `req` touches ("" when none: it runs here), whether it writes, and whether it
  // names a tenant this node does not know (yet).
  void Classify(const http::Request& req, std::string* partition, bool* write,
                bool* unknown_tenant) const;
  // A forwarded request: RouteKnown once the tenant `req` names is known here, or at
  // `deadline_ms` (steady clock).
  void WaitForTenant(const http::Request& req, http::Response& res, bool retry,
                     int64_t deadline_ms, std::function<void(bool here)> then) const;
  // Route, with what the request names resolved as far as this node can.
  void RouteKnown(const http::Request& req, http::Response& res, bool retry,
                  std::function<void(bool here)> then) const;
  // Route's second half, once a read has waited for its token's LSN: where the request goes, by
  // `deadline_ms` (steady clock) for a write waiting for a primary.
  void Decide(const http::Request& req, http::Response& res, const std::string& partition,
              bool write, bool forwarded, uint64_t min_lsn, int64_t deadline_ms,
              std::function<void(bool here)> then) const;
  // Sends `req` to `node`, copies its answer into `res` (503 when it cannot be had), then
  // calls `then`.
  void Forward(const std::string& node, const http::Request& req, http::Response& res,
               std::function<void()> then) const;

  ClusterNode* const node_;
  directory::Directory* const directory_;
};

}  // namespace meridian::server
