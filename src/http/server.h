// Server: the HTTPS listener. TLS (1.2 minimum) always on, HTTP/1.1 with keep-alive, caps on
// connections, absolute time bounds and size limits on requests, strict framing, and
// asynchronous handlers (called on the I/O threads, finished from any thread). Asio and Beast
// stay inside server.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

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

  // Open connections at most, in total and per client (an IPv4 address, or the /64 prefix of
  // an IPv6 address, which one client usually holds whole). A connection over either cap is
  // accepted and closed at once, without a TLS handshake, and counted in the metrics; the
  // acceptor never waits. 0 for max_connections means: derived at Start() from RLIMIT_NOFILE,
  // the soft limit minus a reserve for the store's files (a quarter, at least 256), kept
  // within [16, 65536]. See Server::max_connections().
  size_t max_connections = 0;
  size_t max_connections_per_address = 256;

  // Absolute bounds, whatever the pace at which bytes arrive: the TLS handshake must complete
  // within handshake_timeout_seconds of the accept; a request's header block within
  // header_timeout_seconds of its first byte (of the handshake's end, for the first request
  // of a connection); its body within body_timeout_seconds of the header's end. Past a bound
  // the connection is closed without an answer.
  int handshake_timeout_seconds = 10;
  int header_timeout_seconds = 10;
  int body_timeout_seconds = 60;
  // How long a kept-alive connection may wait for the first byte of its next request; also
  // bounds writing one response.
  int idle_timeout_seconds = 60;

  // When set, every request is counted (route label from Response::route_label), and so are
  // open and refused connections. Not owned; must outlive the Server.
  Metrics* metrics = nullptr;
  Clock* clock = nullptr;    // for the Date header; nullptr means SystemClock::Default()
  Random* random = nullptr;  // for request ids; nullptr means SecureRandom::Default()
  // Receives a line for every handler failure (an exception, a dropped Done), naming the
  // request id; called on any thread, must be thread-safe. nullptr means spdlog::error.
  std::function<void(std::string_view)> error_log;
};

namespace internal {
// The server's side of one request in flight, which Done finishes. Defined in server.cc.
class Exchange {
 public:
  virtual ~Exchange() = default;
  // Sends the response; only the first call has an effect.
  virtual void Finish() = 0;
};
}  // namespace internal

// Finishes one exchange: calling it tells the server that the Response is complete, and the
// server writes it (on the connection's own I/O strand). Callable once from any thread; later
// calls do nothing. Copies share one exchange. The Request and Response the handler got stay
// valid, and the connection reads nothing more, until the first call; after it the handler
// must not touch them. When the last copy is destroyed without a call, the server answers 500
// and logs it (a handler bug: every request must end in a call).
class Done {
 public:
  // For the server (and tests that call a handler directly); nullptr makes a Done that does
  // nothing.
  explicit Done(std::shared_ptr<internal::Exchange> exchange) : exchange_(std::move(exchange)) {}
  void operator()() const {
    if (exchange_) exchange_->Finish();
  }

 private:
  std::shared_ptr<internal::Exchange> exchange_;
};

// An HTTPS server running `handler` for every request.
//
// Threads and ownership: the Server owns its I/O threads. The handler is called on them,
// concurrently for requests on different connections and never concurrently for one
// connection, so it must be thread-safe. It must return quickly: anything slow (a password
// hash, a disk write) belongs on another thread (e.g. a FairExecutor), which calls `done` when
// the Response is ready. An exception thrown by the handler before it has called `done` becomes
// a 500 response and is logged with the request id (the handler must not have passed req, res
// or done on in that case). No error on a connection affects another connection. Responses
// always carry Date, Server, request-id and Strict-Transport-Security headers.
//
// Requests are checked before the handler sees them: framing per RFC 9112 (a Transfer-Encoding
// whose last coding is not chunked, or with Content-Length, or in HTTP/1.0, gets 400; codings
// other than chunked get 501; both close the connection) and Host (none in HTTP/1.1, or more
// than one, gets 400 and close). Error bodies are Graph-shaped: {"error":{"code","message"}}.
class Server {
 public:
  using Handler = std::function<void(const Request&, Response&, Done)>;

  ~Server();  // Stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts the I/O threads. Fails with kInvalidArgument for an unusable
  // certificate, key, bind address or option, and kUnavailable when the address cannot be
  // bound.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, Handler handler);

  // The bound port (the chosen one when options.port was 0).
  uint16_t port() const;
  // The cap on open connections in force (options.max_connections, or the derived one).
  size_t max_connections() const;

  // Stops accepting and stops the I/O threads, waits until every handler that was called has
  // called or dropped its Done (so a handler must not wait for Stop, and whatever runs handlers
  // elsewhere, such as an executor, must keep running or drop its jobs), then closes every
  // connection; responses not yet written are dropped. Idempotent; returns promptly even with
  // idle keep-alive connections open. Must not be called from the handler (that aborts the
  // process, as it would otherwise wait for itself forever).
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Raises this process's soft RLIMIT_NOFILE (open file descriptors) to its hard limit, so that
// the connection cap derived from it is as high as the system allows. Returns the soft limit
// now in force; fails with kInternal when the limit cannot be read (a failure to raise it is
// not an error: the old limit is returned). Call once at process start, before Server::Start.
Result<uint64_t> RaiseOpenFileLimit();

}  // namespace meridian::http
