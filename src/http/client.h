// Client: a small synchronous HTTP/1.1 client (HTTPS by default, optionally with a client
// certificate, or plain HTTP for loopback services such as a test etcd) for tests, command-line
// tools and the etcd client, keeping one connection alive across requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace meridian::http {

struct ClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in order received
  std::string body;

  // The value of the first header named `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// How Client::Connect reaches a server.
struct ClientOptions {
  // false: plain HTTP (loopback services only); the fields below except `timeout` are unused.
  bool tls = true;
  // With a non-empty `ca_pem` the server certificate must chain to it and match the host (name
  // or IP address); with an empty one nothing is verified (tests only).
  std::string ca_pem;
  // A client certificate and its private key (PEM) for mutual TLS; both empty for none.
  std::string cert_pem;
  std::string key_pem;
  // Bounds each network operation (connect, handshake, write, read) unless a deadline is set.
  std::chrono::milliseconds timeout{30000};
};

// One HTTP(S) connection to one server, reopened when the server closed it. Not thread-safe: use
// one Client per thread. Every operation is bounded by the timeout given to Connect(), or by the
// deadline set with set_deadline().
class Client {
 public:
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects (and with TLS completes the handshake). Fails with kUnavailable when the server
  // cannot be reached or the handshake fails, kInvalidArgument for an unusable certificate or key.
  static Result<std::unique_ptr<Client>> Connect(std::string host, uint16_t port,
                                                 ClientOptions options);

  // HTTPS with `ca_pem` as in ClientOptions and a timeout in seconds.
  static Result<std::unique_ptr<Client>> Connect(std::string host, uint16_t port,
                                                 std::string ca_pem, int timeout_seconds = 30);

  // Sends one request and reads its response. Adds Host (unless given) and Content-Length. When
  // a kept-alive connection turns out to have been closed by the server before any response
  // byte arrived, reconnects and sends once more. Fails with kUnavailable on a network, TLS or
  // timeout error and kInvalidArgument on a malformed response.
  Result<ClientResponse> Send(std::string method, std::string target,
                              std::vector<std::pair<std::string, std::string>> headers,
                              std::string body);

  // Writes `bytes` as they are (after the TLS handshake) and reads one response; with empty
  // `bytes` only reads. For tests of malformed input. Never retries.
  Result<ClientResponse> SendRaw(std::string_view bytes);

  // With a deadline, every later operation (reconnecting included) must end by it, and fails
  // with kUnavailable once it has passed; nullopt returns to the per-operation timeout.
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline);

  // Whether a connection is currently open (false after the server asked to close).
  bool connected() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
