// EtcdClient: a synchronous client of etcd 3.4's v3 JSON gateway (HTTP/1.1, keys and values in
// base64): reads, writes, compare-and-swap on a key's revision, and leases. Each call is bounded
// by one timeout across all the endpoints it tries.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::http {
class Client;
}

namespace meridian::cluster {

struct EtcdOptions {
  // "host:port" of each member's client URL, tried in turn when one cannot be reached.
  std::vector<std::string> endpoints;
  // Bounds each call as a whole, every endpoint it tries included.
  std::chrono::milliseconds timeout{2000};
  // false: plain HTTP (a loopback etcd, as in tests). true: HTTPS verified against `ca_pem`
  // (required), with the client certificate `cert_pem`/`key_pem` when etcd asks for one.
  bool tls = false;
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

// One key as etcd holds it. Revisions are etcd's store revisions; lease 0 means none.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t create_revision = 0;
  int64_t lease = 0;
};

// A client of an etcd cluster. Thread-safe: calls may run concurrently from any threads; each
// takes a kept-alive connection from a small per-endpoint pool (or opens one) for its duration.
//
// Failures common to every call: kUnavailable when no endpoint answered within the timeout (or
// etcd reported itself unavailable, e.g. without a leader), kInternal when an answer could not be
// understood. A call that reads, deletes or touches a lease moves on to the next endpoint
// whenever one fails. A call that writes (Put, CompareAndSwap, LeaseGrant) moves on only when it
// could not connect: once its request may have reached etcd it fails with kUnavailable, and its
// outcome is unknown (read the key again).
class EtcdClient {
 public:
  // Fails with kInvalidArgument for an empty or malformed endpoint list or unusable TLS options.
  static Result<std::unique_ptr<EtcdClient>> Create(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // The key, or nullopt when it does not exist.
  Result<std::optional<KeyValue>> Get(std::string_view key);
  // Every key that starts with `prefix`, in key order.
  Result<std::vector<KeyValue>> GetPrefix(std::string_view prefix);
  // Writes the key (attached to `lease` unless 0) and returns the new revision. kNotFound when
  // the lease does not exist (any more).
  Result<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0);
  // Deletes the key; deleting an absent key succeeds.
  Status Delete(std::string_view key);
  // Writes the key only if its mod_revision is still `expected_mod_revision` (0: only if the key
  // does not exist) and returns the new revision; kFailedPrecondition when it is not.
  Result<int64_t> CompareAndSwap(std::string_view key, int64_t expected_mod_revision,
                                 std::string_view value, int64_t lease = 0);

  // Grants a lease of `ttl_seconds` (> 0) and returns its id.
  Result<int64_t> LeaseGrant(int64_t ttl_seconds);
  // Renews the lease and returns its remaining TTL in seconds; kNotFound when it has expired or
  // was revoked.
  Result<int64_t> LeaseKeepAlive(int64_t lease);
  // Revokes the lease, deleting the keys attached to it; kNotFound when it no longer exists.
  Status LeaseRevoke(int64_t lease);

 private:
  struct Endpoint;
  explicit EtcdClient(EtcdOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints);

  // POSTs the JSON `body` to `path` and returns the body of a 200 answer. `retry_after_send`:
  // whether the request may be sent to another endpoint after it may have reached one.
  Result<std::string> Call(std::string_view path, std::string body, bool retry_after_send);
  Result<std::unique_ptr<http::Client>> TakeConnection(
      Endpoint& endpoint, std::chrono::steady_clock::time_point deadline);
  void ReturnConnection(Endpoint& endpoint, std::unique_ptr<http::Client> client);
  void DropConnections(Endpoint& endpoint);

  const EtcdOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<size_t> preferred_{0};  // the endpoint that answered last; tried first
  std::mutex mu_;                     // guards every Endpoint's idle pool
};

}  // namespace meridian::cluster
