// Client: a small synchronous HTTPS/1.1 client for tests and command-line tools, keeping one
// connection alive across requests.
#pragma once

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

// One HTTPS connection to one server, reopened when the server closed it. Not thread-safe: use
// one Client per thread. Every operation is bounded by the timeout given to Connect().
class Client {
 public:
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects and completes the TLS handshake. With a non-empty `ca_pem` the server certificate
  // must chain to it and match `host` (name or IP address); with an empty one nothing is
  // verified (tests only). Fails with kUnavailable when the server cannot be reached or the
  // handshake fails, kInvalidArgument for an unusable `ca_pem`.
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

  // Whether a connection is currently open (false after the server asked to close).
  bool connected() const;

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
