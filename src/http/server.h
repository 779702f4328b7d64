// Server: the HTTPS listener. TLS (1.2 minimum) always on, HTTP/1.1 with keep-alive, body and
// header limits, and synchronous handlers on a pool of I/O threads. Asio and Beast stay inside
// server.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "http/message.h"
#include "http/metrics.h"

namespace meridian::http {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;                   // 0 picks a free port; see Server::port()
  int threads = 0;                     // I/O threads; 0 means one per hardware thread
  std::string cert_pem;                // the certificate chain, leaf first
  std::string key_pem;                 // its private key
  size_t max_body_bytes = 4 << 20;     // larger bodies get 413 and the connection is closed
  size_t max_header_bytes = 16 << 10;  // request line and header fields; larger gets 413
  // A connection with no progress for this long is closed (also bounds a stalled write).
  int idle_timeout_seconds = 60;
  // When set, every request is counted (route label from Response::route_label). Not owned;
  // must outlive the Server.
  Metrics* metrics = nullptr;
  Clock* clock = nullptr;    // for the Date header; nullptr means SystemClock::Default()
  Random* random = nullptr;  // for request ids; nullptr means SecureRandom::Default()
};

// An HTTPS server running `handler` for every request.
//
// Threads and ownership: the Server owns its I/O threads; the handler runs on them, concurrently
// for requests on different connections and never concurrently for one connection, so it must
// be thread-safe. A handler must not call Stop() or destroy the Server (that aborts the
// process, as it would otherwise wait for itself forever). An exception thrown by a handler
// becomes a 500 response; no error on a connection affects another connection. Responses always
// carry Date, Server, request-id and Strict-Transport-Security headers.
class Server {
 public:
  using Handler = std::function<void(const Request&, Response&)>;

  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O threads. Fails with kInvalidArgument for an unusable
  // certificate, key or bind address, and kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;

  // Stops accepting, closes every connection (handlers already running finish first; responses
  // not yet written are dropped) and joins the I/O threads. Idempotent; returns promptly even
  // with idle keep-alive connections open.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::http
