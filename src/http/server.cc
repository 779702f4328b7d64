#include "http/server.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/encoding.h"

namespace meridian::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using SteadyClock = std::chrono::steady_clock;

// How long a TLS handshake may take.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
// After an error response we read and discard what the client is still sending, so that closing
// the socket with unread data (which makes the kernel send a reset) does not destroy the
// response before the client has read it; bounded in time and bytes.
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr size_t kLingerMaxBytes = 64 << 20;
// Bodies up to this size are copied behind the header block so the response is one TLS record
// and one write; larger ones are written from the Response in place.
constexpr size_t kInlineBodyMax = 16 << 10;
// Buffers that grew beyond this for one large request are released rather than kept per
// connection.
constexpr size_t kKeepCapacity = 64 << 10;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kSts = "max-age=31536000; includeSubDomains";

// TLS 1.2 suites: ECDHE key exchange and AEAD only. TLS 1.3 suites are OpenSSL's defaults.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kGroups = "X25519:P-256:P-384";

// The method as a metrics label: the standard methods, or "other" so that a client cannot create
// unbounded series.
std::string_view MethodLabel(std::string_view m) {
  for (std::string_view known : {"GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS"}) {
    if (m == known) return known;
  }
  return "other";
}

std::string_view ReasonPhrase(int status) {
  std::string_view r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return r.empty() || r.front() == '<' ? std::string_view("Unknown") : r;
}

void AppendInt(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// A header the handler may not set: framing and connection management belong to the server.
bool IsServerOwned(std::string_view name) {
  switch (name.size()) {
    case 4:
      return EqualsIgnoreCase(name, "date");
    case 6:
      return EqualsIgnoreCase(name, "server");
    case 10:
      return EqualsIgnoreCase(name, "connection");
    case 14:
      return EqualsIgnoreCase(name, "content-length");
    case 17:
      return EqualsIgnoreCase(name, "transfer-encoding");
    default:
      return false;
  }
}

// Rejects header fields that would break the response framing (CR, LF, NUL; ':' in a name).
bool IsSafeHeader(std::string_view name, std::string_view value) {
  constexpr std::string_view kBadInValue("\r\n\0", 3);
  constexpr std::string_view kBadInName("\r\n\0: \t", 6);
  return !name.empty() && name.find_first_of(kBadInName) == std::string_view::npos &&
         value.find_first_of(kBadInValue) == std::string_view::npos;
}

// RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (29 characters).
void FormatHttpDate(int64_t unix_seconds, char (&out)[64]) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::snprintf(out, sizeof(out), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  // `code` and `message` are fixed ASCII text without characters that need JSON escaping.
  std::string body = R"({"error":{"code":")";
  body += code;
  body += R"(","message":")";
  body += message;
  body += R"("}})";
  return body;
}

const boost::system::error_category& HttpErrorCategory() {
  static const boost::system::error_category& c =
      bhttp::make_error_code(bhttp::error::bad_target).category();
  return c;
}

class Connection;

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  Clock* clock = nullptr;
  Random* random = nullptr;
  Metrics* metrics = nullptr;
  SteadyClock::duration idle_timeout{};

  ssl::context ssl_ctx{ssl::context::tls_server};
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;
  uint16_t port = 0;

  std::mutex stop_mu;
  bool stopped = false;

  Status ConfigureTls();
  Status Listen();
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  void Run();
  void Stop();
};

namespace {

// One TLS connection. Owned by the completion handlers of its pending operations (through
// shared_ptr); every handler runs on the connection's strand, so members need no locks.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, tcp::socket socket)
      : server_(server),
        stream_(std::move(socket), server->ssl_ctx),
        timer_(stream_.get_executor()) {}

  // Called on the accepting thread; everything else happens on the strand.
  void Start() {
    error_code ec;
    auto& sock = stream_.next_layer();
    sock.set_option(tcp::no_delay(true), ec);
    tcp::endpoint ep = sock.remote_endpoint(ec);
    if (!ec) {
      req_.remote_address =
          ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
      req_.remote_address += ":" + std::to_string(ep.port());
    }
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Handshake(); });
  }

 private:
  void Handshake() {
    deadline_ = SteadyClock::now() +
                std::min<SteadyClock::duration>(kHandshakeTimeout, server_->idle_timeout);
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (ec) return self->Close();
      self->buffer_.reserve(4096);
      self->ReadRequest();
    });
  }

  // The one timer of a connection fires at the deadline it was armed with; deadline_ moves
  // later with progress without touching the timer (cheap on the hot path), and the timer
  // re-arms itself for the new deadline when it fires early.
  void OnTimer(error_code ec) {
    if (closed_ || ec == asio::error::operation_aborted) return;
    if (SteadyClock::now() >= deadline_) return Close();
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
  }

  // Moves the deadline earlier than the timer is armed for: re-arms the timer (the cancelled
  // wait completes with operation_aborted and is ignored).
  void ShortenDeadline(SteadyClock::duration d) {
    deadline_ = SteadyClock::now() + std::min<SteadyClock::duration>(d, server_->idle_timeout);
    if (deadline_ < timer_.expiry()) {
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
    }
  }

  void ReadRequest() {
    deadline_ = SteadyClock::now() + server_->idle_timeout;
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(server_->options.max_body_bytes));
    // Lend the body storage of the previous request to the parser.
    std::string& body = parser_->get().body();
    body.swap(req_.body);
    body.clear();
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    if (parser_->is_done()) return Handle();
    auto expect = parser_->get()[bhttp::field::expect];
    if (!expect.empty() && EqualsIgnoreCase(expect, "100-continue")) {
      deadline_ = SteadyClock::now() + server_->idle_timeout;
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](error_code ec, size_t) {
                          if (self->closed_) return;
                          if (ec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  // Reads the body piece by piece so that the idle deadline moves with every piece.
  void ReadBody() {
    deadline_ = SteadyClock::now() + server_->idle_timeout;
    bhttp::async_read_some(stream_, buffer_, *parser_,
                           [self = shared_from_this()](error_code ec, size_t) {
                             if (self->closed_) return;
                             if (ec) return self->OnReadError(ec);
                             if (self->parser_->is_done()) return self->Handle();
                             self->ReadBody();
                           });
  }

  void OnReadError(error_code ec) {
    if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit ||
        ec == bhttp::error::buffer_overflow) {
      return Reject(413, "Request_EntityTooLarge",
                    "The request is larger than this server accepts.");
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
      return Close();  // the client went away; nobody to answer
    }
    if (ec.category() == HttpErrorCategory()) {
      return Reject(400, "Request_BadRequest", "The request is not valid HTTP/1.1.");
    }
    Close();  // TLS or socket error, or the idle deadline closed the socket
  }

  // Answers a request that could not be read, then closes the connection.
  void Reject(int status, std::string_view code, std::string_view message) {
    ResetResponse();
    res_.SetJson(status, ErrorBody(code, message));
    keep_alive_ = false;
    linger_after_write_ = true;
    http10_ = false;
    std::string_view method =
        parser_ && parser_->is_header_done() ? parser_->get().method_string() : "";
    if (server_->metrics) {
      server_->metrics->ObserveRequest(res_.route_label, MethodLabel(method), status, 0.0);
    }
    Serialize(/*head=*/false);
    Write();
  }

  void Handle() {
    SteadyClock::time_point started = SteadyClock::now();
    auto& msg = parser_->get();
    req_.method.assign(msg.method_string());
    Status target = ParseTarget(msg.target(), &req_);
    size_t n = 0;  // reuse the header strings of the previous request
    for (const auto& field : msg) {
      if (n == req_.headers.size()) req_.headers.emplace_back();
      auto& [name, value] = req_.headers[n++];
      name.assign(field.name_string());
      value.assign(field.value());
    }
    req_.headers.resize(n);
    req_.body.swap(msg.body());
    keep_alive_ = msg.keep_alive();
    http10_ = msg.version() < 11;

    ResetResponse();
    if (!target.ok()) {
      res_.SetJson(400, ErrorBody("Request_BadRequest", target.message()));
    } else {
      try {
        server_->handler(req_, res_);
      } catch (...) {
        // A handler bug must not take the server down; the details are the handler's to log.
        ResetResponse();
        res_.SetJson(500, ErrorBody("InternalServerError", "An internal error occurred."));
      }
    }
    Serialize(req_.method == "HEAD");
    if (server_->metrics) {
      std::chrono::duration<double> took = SteadyClock::now() - started;
      server_->metrics->ObserveRequest(res_.route_label, MethodLabel(req_.method), res_.status,
                                       took.count());
    }
    Write();
  }

  void ResetResponse() {
    res_.status = 200;
    res_.headers.clear();
    res_.body.clear();
    res_.route_label.assign("unmatched");
    res_.request_id = server_->random->Uuid();
    res_.headers.emplace_back("request-id", res_.request_id);
  }

  std::string_view Date() {
    int64_t now = server_->clock->NowSeconds();
    if (now != date_second_) {
      FormatHttpDate(now, date_);
      date_second_ = now;
    }
    return {date_, 29};
  }

  // Writes the status line, headers and (small) body of res_ into out_.
  void Serialize(bool head) {
    int status = res_.status;
    if (status < 200 || status > 599) status = res_.status = 500;
    bool bodyless = status == 204 || status == 304;
    out_.clear();
    out_ += "HTTP/1.1 ";
    AppendInt(&out_, static_cast<uint64_t>(status));
    out_ += ' ';
    out_ += ReasonPhrase(status);
    out_ += "\r\n";
    bool has_type = false, has_id = false, has_sts = false;
    for (const auto& [name, value] : res_.headers) {
      if (!IsSafeHeader(name, value) || IsServerOwned(name)) continue;
      if (EqualsIgnoreCase(name, "content-type")) {
        has_type = true;
      } else if (EqualsIgnoreCase(name, "request-id")) {
        has_id = true;
      } else if (EqualsIgnoreCase(name, "strict-transport-security")) {
        has_sts = true;
      }
      out_ += name;
      out_ += ": ";
      out_ += value;
      out_ += "\r\n";
    }
    if (!has_id) {
      out_ += "request-id: ";
      out_ += res_.request_id;
      out_ += "\r\n";
    }
    if (!has_sts) {
      out_ += "Strict-Transport-Security: ";
      out_ += kSts;
      out_ += "\r\n";
    }
    if (!has_type && !bodyless && !res_.body.empty()) {
      out_ += "Content-Type: application/json\r\n";
    }
    out_ += "Date: ";
    out_ += Date();
    out_ += "\r\nServer: meridian\r\n";
    if (!keep_alive_) {
      out_ += "Connection: close\r\n";
    } else if (http10_) {
      out_ += "Connection: keep-alive\r\n";
    }
    if (!bodyless) {
      out_ += "Content-Length: ";
      AppendInt(&out_, res_.body.size());
      out_ += "\r\n";
    }
    out_ += "\r\n";
    write_body_ = !head && !bodyless && !res_.body.empty();
    if (write_body_ && res_.body.size() <= kInlineBodyMax) {
      out_ += res_.body;
      write_body_ = false;
    }
  }

  void Write() {
    deadline_ = SteadyClock::now() + server_->idle_timeout;
    auto on_write = [self = shared_from_this()](error_code ec, size_t) { self->OnWrite(ec); };
    if (write_body_) {
      std::array<asio::const_buffer, 2> buffers = {asio::buffer(out_), asio::buffer(res_.body)};
      asio::async_write(stream_, buffers, std::move(on_write));
    } else {
      asio::async_write(stream_, asio::buffer(out_), std::move(on_write));
    }
  }

  void OnWrite(error_code ec) {
    if (closed_) return;
    if (ec) return Close();
    if (linger_after_write_) return Linger();
    if (!keep_alive_) {
      // Send close_notify; the peer answers with its own or closes. Bounded by the deadline.
      ShortenDeadline(kLingerTimeout);
      stream_.async_shutdown([self = shared_from_this()](error_code) { self->Close(); });
      return;
    }
    for (std::string* s : {&req_.body, &res_.body, &out_}) {
      if (s->capacity() > kKeepCapacity) std::string().swap(*s);
    }
    ReadRequest();
  }

  // Half-closes the connection and reads and discards until the client closes too.
  void Linger() {
    error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
    ShortenDeadline(kLingerTimeout);
    buffer_.clear();
    LingerRead();
  }

  void LingerRead() {
    stream_.async_read_some(buffer_.prepare(16 << 10),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (self->closed_) return;
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerMaxBytes) return self->Close();
                              self->LingerRead();
                            });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    error_code ignored;
    stream_.next_layer().close(ignored);  // pending operations finish with operation_aborted
    timer_.cancel();
  }

  Server::Impl* server_;
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  SteadyClock::time_point deadline_;
  beast::flat_buffer buffer_;  // kept across requests
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;  // reused across requests to keep string capacity
  Response res_;
  std::string out_;  // the serialized response head (and small body)
  bool keep_alive_ = true;
  bool http10_ = false;
  bool write_body_ = false;
  bool linger_after_write_ = false;
  bool closed_ = false;
  size_t lingered_ = 0;
  int64_t date_second_ = -1;
  char date_[64] = {};
};

}  // namespace

Status Server::Impl::ConfigureTls() {
  SSL_CTX* ctx = ssl_ctx.native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return Internal("OpenSSL rejected the TLS cipher or group configuration");
  }
  error_code ec;
  ssl_ctx.use_certificate_chain(asio::buffer(options.cert_pem), ec);
  if (ec) return InvalidArgument("cannot load the TLS certificate chain: " + ec.message());
  ssl_ctx.use_private_key(asio::buffer(options.key_pem), ssl::context::pem, ec);
  if (ec) return InvalidArgument("cannot load the TLS private key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return InvalidArgument("the TLS private key does not match the certificate");
  }
  return Status::Ok();
}

Status Server::Impl::Listen() {
  error_code ec;
  asio::ip::address address = asio::ip::make_address(options.bind_address, ec);
  if (ec) return InvalidArgument("bad bind address '" + options.bind_address + "'");
  tcp::endpoint endpoint(address, options.port);
  acceptor = std::make_unique<tcp::acceptor>(asio::make_strand(*ioc));
  std::string where = options.bind_address + ":" + std::to_string(options.port);
  if (acceptor->open(endpoint.protocol(), ec); ec) {
    return Status(Code::kUnavailable, "cannot open a socket for " + where + ": " + ec.message());
  }
  acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (acceptor->bind(endpoint, ec); ec) {
    return Status(Code::kUnavailable, "cannot bind " + where + ": " + ec.message());
  }
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status(Code::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  }
  port = acceptor->local_endpoint(ec).port();
  accept_retry = std::make_unique<asio::steady_timer>(acceptor->get_executor());
  return Status::Ok();
}

void Server::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(*ioc), [this](error_code ec, tcp::socket socket) {
    OnAccept(ec, std::move(socket));
  });
}

void Server::Impl::OnAccept(error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors or memory: back off instead of spinning; anything else is about the
    // one connection that failed.
    if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
        ec == asio::error::no_memory) {
      accept_retry->expires_after(std::chrono::milliseconds(50));
      accept_retry->async_wait([this](error_code ec) {
        if (!ec) Accept();
      });
      return;
    }
    return Accept();
  }
  try {
    std::make_shared<Connection>(this, std::move(socket))->Start();
  } catch (const std::exception&) {
    // Out of memory for one connection (its socket closes here); keep accepting.
  }
  Accept();
}

void Server::Impl::Run() {
  for (;;) {
    try {
      ioc->run();
      return;
    } catch (const std::exception& e) {
      // Handlers catch their own exceptions, so this is a bug in this file; keep serving.
      std::fprintf(stderr, "http::Server: exception escaped an I/O handler: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "http::Server: exception escaped an I/O handler\n");
    }
  }
}

void Server::Impl::Stop() {
  for (const auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      // Joining ourselves would hang forever; this is a bug in the caller.
      std::fprintf(stderr, "http::Server::Stop called from a handler\n");
      std::abort();
    }
  }
  std::lock_guard<std::mutex> lock(stop_mu);
  if (stopped) return;
  stopped = true;
  if (ioc) ioc->stop();
  for (auto& t : threads) {
    if (t.joinable()) t.join();
  }
  // The pending handlers own the connections; destroying the io_context destroys them, which
  // closes every socket.
  accept_retry.reset();
  acceptor.reset();
  ioc.reset();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) impl_->Stop();
}

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, Handler handler) {
  if (!handler) return InvalidArgument("http::Server needs a handler");
  if (options.idle_timeout_seconds <= 0) return InvalidArgument("idle_timeout_seconds must be > 0");
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->handler = std::move(handler);
    impl->clock = impl->options.clock ? impl->options.clock : SystemClock::Default();
    impl->random = impl->options.random ? impl->options.random : SecureRandom::Default();
    impl->metrics = impl->options.metrics;
    impl->idle_timeout = std::chrono::seconds(impl->options.idle_timeout_seconds);
    int threads = impl->options.threads;
    if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    MERIDIAN_RETURN_IF_ERROR(impl->ConfigureTls());
    impl->ioc = std::make_unique<asio::io_context>(threads);
    MERIDIAN_RETURN_IF_ERROR(impl->Listen());
    impl->Accept();
    Impl* raw = impl.get();
    for (int i = 0; i < threads; ++i) impl->threads.emplace_back([raw] { raw->Run(); });
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("cannot start the HTTPS server: ") + e.what());
  }
}

uint16_t Server::port() const { return impl_->port; }

void Server::Stop() { impl_->Stop(); }

}  // namespace meridian::http
