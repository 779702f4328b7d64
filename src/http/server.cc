#include "http/server.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
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
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>
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

// What a kept-alive connection reads while it waits for the first bytes of its next request.
constexpr size_t kFirstRead = 16 << 10;
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

// The key of a client for max_connections_per_address: the IPv4 address (4 bytes), or the /64
// prefix of an IPv6 address (8 bytes); an IPv4-mapped IPv6 address counts as its IPv4 address.
std::string AddressKey(const asio::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return AddressKey(asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()));
  }
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    return std::string(bytes.begin(), bytes.end());
  }
  auto bytes = address.to_v6().to_bytes();
  return std::string(bytes.begin(), bytes.begin() + 8);
}

// The connection cap when ServerOptions::max_connections is 0: the soft RLIMIT_NOFILE minus a
// reserve for everything else the process opens (the store's files, above all): a quarter of
// the limit, at least 256. Kept within [16, 65536]; memory, not descriptors, bounds beyond that.
size_t DefaultMaxConnections() {
  constexpr uint64_t kMin = 16, kMax = 65536, kMinReserve = 256;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return kMax;
  uint64_t soft = limit.rlim_cur;
  uint64_t reserve = std::max<uint64_t>(kMinReserve, soft / 4);
  uint64_t cap = soft > reserve ? soft - reserve : 0;
  return static_cast<size_t>(std::clamp(cap, kMin, kMax));
}

// Splits a comma-separated field value into its trimmed, non-empty elements (RFC 9110 5.6.1).
void SplitList(std::string_view value, std::vector<std::string_view>* out) {
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (!item.empty()) out->push_back(item);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
}

// A request header that must not be served, and how to answer it.
struct FramingError {
  int status = 0;  // 0: none
  std::string_view code;
  std::string_view message;
};

// Checks what the parser accepts but RFC 9112 does not: the message framing (section 6: a
// Transfer-Encoding must end in chunked, must not come with Content-Length, and is not HTTP/1.0;
// Beast reads such a request as bodyless, so its body would run as a second request) and Host
// (section 3.2: exactly one in HTTP/1.1, at most one in HTTP/1.0).
FramingError CheckFraming(const bhttp::request<bhttp::string_body>& msg) {
  int hosts = 0;
  bool has_te = false, has_cl = false;
  std::vector<std::string_view> codings;
  for (const auto& field : msg) {
    switch (field.name()) {
      case bhttp::field::host:
        ++hosts;
        break;
      case bhttp::field::content_length:
        has_cl = true;
        break;
      case bhttp::field::transfer_encoding:
        has_te = true;
        SplitList(field.value(), &codings);
        break;
      default:
        break;
    }
  }
  constexpr std::string_view kBad = "Request_BadRequest";
  if (hosts > 1) return {400, kBad, "The request has more than one Host header field."};
  if (hosts == 0 && msg.version() >= 11) {
    return {400, kBad, "The request has no Host header field."};
  }
  if (!has_te) return {};
  if (has_cl) {
    return {400, kBad, "The request has both Transfer-Encoding and Content-Length."};
  }
  if (msg.version() < 11) return {400, kBad, "Transfer-Encoding is not allowed in HTTP/1.0."};
  if (codings.empty() || !EqualsIgnoreCase(codings.back(), "chunked")) {
    return {400, kBad, "The last transfer coding of the request is not chunked."};
  }
  if (codings.size() > 1) {
    return {501, "NotImplemented", "Transfer codings other than chunked are not supported."};
  }
  return {};
}

class Connection;

}  // namespace

struct Server::Impl {
  ServerOptions options;
  Handler handler;
  Clock* clock = nullptr;
  Random* random = nullptr;
  Metrics* metrics = nullptr;
  SteadyClock::duration handshake_timeout{};
  SteadyClock::duration header_timeout{};
  SteadyClock::duration body_timeout{};
  SteadyClock::duration idle_timeout{};

  ssl::context ssl_ctx{ssl::context::tls_server};
  std::unique_ptr<asio::io_context> ioc;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> accept_retry;
  std::vector<std::thread> threads;
  uint16_t port = 0;

  // Open connections, in total and by AddressKey; touched by the acceptor and by connections
  // closing on their strands.
  std::mutex connections_mu;
  size_t open_connections = 0;
  std::unordered_map<std::string, size_t> connections_by_address;

  // Exchanges (requests handed to the handler) not yet ended: Stop() waits for none.
  std::mutex exchanges_mu;
  std::condition_variable exchanges_cv;
  size_t exchanges = 0;

  std::mutex stop_mu;
  bool stopped = false;

  Status ConfigureTls();
  Status Listen();
  void Accept();
  void OnAccept(error_code ec, tcp::socket socket);
  // Takes a connection slot for `address_key`, or returns false (and counts the refusal) when
  // a cap is reached.
  bool Admit(const std::string& address_key);
  void Release(const std::string& address_key);
  void LogError(std::string_view message);
  void Run();
  void Stop();
};

namespace {

// One taken connection slot (see Server::Impl::Admit), given back once: by Release() or on
// destruction. Move-only.
class ConnectionSlot {
 public:
  ConnectionSlot(Server::Impl* server, std::string address_key)
      : server_(server), address_key_(std::move(address_key)) {}
  ConnectionSlot(ConnectionSlot&& other) noexcept
      : server_(std::exchange(other.server_, nullptr)),
        address_key_(std::move(other.address_key_)) {}
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() { Release(); }

  void Release() {
    if (server_) std::exchange(server_, nullptr)->Release(address_key_);
  }

 private:
  Server::Impl* server_;
  std::string address_key_;
};

// The exchange of one request, shared by the copies of its Done. Counted in the server's
// `exchanges` from construction to destruction, and holds the connection (and so its Request
// and Response) alive until then.
class ExchangeImpl final : public internal::Exchange {
 public:
  explicit ExchangeImpl(std::shared_ptr<Connection> connection);
  ~ExchangeImpl() override;
  void Finish() override;
  // Takes the exchange over for an error response when nobody has finished it yet.
  bool Claim() { return !finished_.exchange(true, std::memory_order_acq_rel); }

 private:
  std::shared_ptr<Connection> connection_;
  std::atomic<bool> finished_{false};
};

// One TLS connection. Owned by the completion handlers of its pending operations and by the
// exchange of a request being handled (through shared_ptr); every handler runs on the
// connection's strand, so members need no locks.
//
// Time: one timer bounds every phase with an absolute deadline (handshake, header, body,
// write, linger), or the idle timeout while a kept-alive connection waits for a request. No
// deadline runs while the handler has the request.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Server::Impl* server, tcp::socket socket, ConnectionSlot slot)
      : server_(server),
        slot_(std::move(slot)),
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

  // ExchangeImpl's way back onto the strand, from any thread. `dropped` when the last Done
  // went away without a call.
  void OnExchangeFinished(bool dropped) {
    if (handler_thread_.load(std::memory_order_relaxed) == std::this_thread::get_id()) {
      // Finished during the handler call, on its thread: Handle() responds once the handler
      // returns (saves a trip through the strand's queue).
      finished_in_handler_ = true;
      dropped_ = dropped;
      return;
    }
    asio::post(stream_.get_executor(),
               [self = shared_from_this(), dropped] { self->Respond(dropped); });
  }

  Server::Impl* server() const { return server_; }

 private:
  void Handshake() {
    deadline_ = SteadyClock::now() + server_->handshake_timeout;
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
    stream_.async_handshake(ssl::stream_base::server, [self = shared_from_this()](error_code ec) {
      if (self->closed_) return;
      if (ec) return self->Close();
      self->buffer_.reserve(4096);
      self->ReadRequest(/*first=*/true);
    });
  }

  // The one timer of a connection fires at the deadline it was armed with; a deadline that
  // moves later leaves the timer alone (cheap on the hot path), and the timer re-arms itself
  // for the new deadline when it fires early. A deadline that moves earlier re-arms it.
  void OnTimer(error_code ec) {
    if (closed_ || ec == asio::error::operation_aborted) return;
    if (SteadyClock::now() >= deadline_) return Close();
    timer_.expires_at(deadline_);
    timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
  }

  void SetDeadline(SteadyClock::time_point deadline) {
    deadline_ = deadline;
    if (deadline_ < timer_.expiry()) {
      // Re-arming cancels the pending wait, which completes with operation_aborted.
      timer_.expires_at(deadline_);
      timer_.async_wait([self = shared_from_this()](error_code ec) { self->OnTimer(ec); });
    }
  }

  // Starts reading a request. The first request of a connection must have its header within
  // header_timeout of the handshake's end; a later one may wait idle_timeout for its first
  // byte, and then has header_timeout for the rest of its header.
  void ReadRequest(bool first) {
    parser_.emplace();
    parser_->header_limit(
        static_cast<uint32_t>(std::min<size_t>(server_->options.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(static_cast<uint64_t>(server_->options.max_body_bytes));
    // Lend the body storage of the previous request to the parser.
    std::string& body = parser_->get().body();
    body.swap(req_.body);
    body.clear();
    if (first || buffer_.size() > 0) return ReadHeader();
    SetDeadline(SteadyClock::now() + server_->idle_timeout);
    stream_.async_read_some(buffer_.prepare(kFirstRead),
                            [self = shared_from_this()](error_code ec, size_t n) {
                              if (self->closed_) return;
                              self->buffer_.commit(n);
                              if (ec) return self->OnReadError(ec);
                              self->ReadHeader();
                            });
  }

  void ReadHeader() {
    SetDeadline(SteadyClock::now() + server_->header_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(error_code ec) {
    if (closed_) return;
    if (ec) return OnReadError(ec);
    FramingError bad = CheckFraming(parser_->get());
    if (bad.status != 0) return Reject(bad.status, bad.code, bad.message);
    if (parser_->is_done()) return Handle();
    // The whole body, however slowly it comes, within body_timeout of the header's end.
    SetDeadline(SteadyClock::now() + server_->body_timeout);
    auto expect = parser_->get()[bhttp::field::expect];
    if (!expect.empty() && EqualsIgnoreCase(expect, "100-continue")) {
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

  // Reads the body piece by piece (the deadline does not move).
  void ReadBody() {
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
    Close();  // TLS or socket error, or a deadline closed the socket
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
    started_ = SteadyClock::now();
    // The handler's time is not the client's: no deadline until the response is written.
    deadline_ = SteadyClock::time_point::max();
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
      return Respond(/*dropped=*/false);
    }
    auto exchange = std::make_shared<ExchangeImpl>(shared_from_this());
    handler_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    try {
      server_->handler(req_, res_, Done(exchange));
    } catch (const std::exception& e) {
      HandlerThrew(exchange.get(), e.what());
    } catch (...) {
      HandlerThrew(exchange.get(), "an exception that is not a std::exception");
    }
    exchange.reset();  // when the handler kept no Done, this ends the exchange
    handler_thread_.store(std::thread::id(), std::memory_order_relaxed);
    if (finished_in_handler_) {
      finished_in_handler_ = false;
      Respond(dropped_);
    }
  }

  void HandlerThrew(ExchangeImpl* exchange, std::string_view what) {
    server_->LogError("request " + res_.request_id + " (" + req_.method + " " + req_.path +
                      "): the handler threw: " + std::string(what));
    if (!exchange->Claim()) return;  // it had already finished; its response stands
    SetInternalError();
    OnExchangeFinished(/*dropped=*/false);
  }

  // Replaces whatever the handler put in res_ by a 500, keeping the request id.
  void SetInternalError() {
    res_.headers.clear();
    res_.headers.emplace_back("request-id", res_.request_id);
    res_.SetJson(500, ErrorBody("InternalServerError", "An internal error occurred."));
  }

  // Writes the response of the exchange that has just finished.
  void Respond(bool dropped) {
    if (closed_) return;
    if (dropped) {
      server_->LogError("request " + res_.request_id + " (" + req_.method + " " + req_.path +
                        "): the handler dropped its Done without calling it");
      SetInternalError();
    }
    Serialize(req_.method == "HEAD");
    if (server_->metrics) {
      std::chrono::duration<double> took = SteadyClock::now() - started_;
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
    SetDeadline(SteadyClock::now() + server_->idle_timeout);
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
      SetDeadline(SteadyClock::now() + kLingerTimeout);
      stream_.async_shutdown([self = shared_from_this()](error_code) { self->Close(); });
      return;
    }
    for (std::string* s : {&req_.body, &res_.body, &out_}) {
      if (s->capacity() > kKeepCapacity) std::string().swap(*s);
    }
    ReadRequest(/*first=*/false);
  }

  // Half-closes the connection and reads and discards until the client closes too.
  void Linger() {
    error_code ignored;
    stream_.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(SteadyClock::now() + kLingerTimeout);
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
    slot_.Release();  // the descriptor is gone, even if an exchange still holds this object
  }

  Server::Impl* server_;
  ConnectionSlot slot_;  // before stream_: given back even when constructing stream_ throws
  ssl::stream<tcp::socket> stream_;
  asio::steady_timer timer_;
  SteadyClock::time_point deadline_;
  SteadyClock::time_point started_;  // when the handler got the current request
  beast::flat_buffer buffer_;        // kept across requests
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Request req_;  // reused across requests to keep string capacity
  Response res_;
  std::string out_;  // the serialized response head (and small body)
  bool keep_alive_ = true;
  bool http10_ = false;
  bool write_body_ = false;
  bool linger_after_write_ = false;
  bool closed_ = false;
  // The thread on which Handle() is calling the handler, or none. Read from any thread (by
  // OnExchangeFinished), but equal to the reader's own id only on that thread, during the call.
  std::atomic<std::thread::id> handler_thread_{};
  bool finished_in_handler_ = false;  // the exchange finished during the handler call
  bool dropped_ = false;              // ... by the last Done going away
  size_t lingered_ = 0;
  int64_t date_second_ = -1;
  char date_[64] = {};
};

ExchangeImpl::ExchangeImpl(std::shared_ptr<Connection> connection)
    : connection_(std::move(connection)) {
  Server::Impl* server = connection_->server();
  std::lock_guard<std::mutex> lock(server->exchanges_mu);
  ++server->exchanges;
}

ExchangeImpl::~ExchangeImpl() {
  if (Claim()) connection_->OnExchangeFinished(/*dropped=*/true);
  Server::Impl* server = connection_->server();
  connection_.reset();  // before Stop() may see the count drop and tear the server down
  std::lock_guard<std::mutex> lock(server->exchanges_mu);
  if (--server->exchanges == 0) server->exchanges_cv.notify_all();
}

void ExchangeImpl::Finish() {
  if (Claim()) connection_->OnExchangeFinished(/*dropped=*/false);
}

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
  tcp::endpoint peer = socket.remote_endpoint(ec);
  if (ec) return Accept();  // the peer has already gone; its socket closes here
  std::string key = AddressKey(peer.address());
  if (!Admit(key)) {
    // Over a cap: close at once (no handshake, no waiting), so that the descriptor is free and
    // the acceptor moves on.
    socket.close(ec);
    return Accept();
  }
  try {
    ConnectionSlot slot(this, std::move(key));
    std::make_shared<Connection>(this, std::move(socket), std::move(slot))->Start();
  } catch (const std::exception&) {
    // Out of memory for one connection (its socket and slot are given back here); keep
    // accepting.
  }
  Accept();
}

bool Server::Impl::Admit(const std::string& address_key) {
  std::lock_guard<std::mutex> lock(connections_mu);
  if (open_connections >= options.max_connections) {
    if (metrics) metrics->ObserveConnection(Metrics::ConnectionEvent::kRefusedTotal);
    return false;
  }
  auto [it, inserted] = connections_by_address.try_emplace(address_key, 0);
  if (it->second >= options.max_connections_per_address) {
    if (metrics) metrics->ObserveConnection(Metrics::ConnectionEvent::kRefusedPerAddress);
    return false;
  }
  ++it->second;
  ++open_connections;
  if (metrics) metrics->ObserveConnection(Metrics::ConnectionEvent::kOpened);
  return true;
}

void Server::Impl::Release(const std::string& address_key) {
  std::lock_guard<std::mutex> lock(connections_mu);
  --open_connections;
  auto it = connections_by_address.find(address_key);
  if (it != connections_by_address.end() && --it->second == 0) connections_by_address.erase(it);
  if (metrics) metrics->ObserveConnection(Metrics::ConnectionEvent::kClosed);
}

void Server::Impl::LogError(std::string_view message) {
  if (options.error_log) {
    options.error_log(message);
  } else {
    spdlog::error("http: {}", message);
  }
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
  // A handler still working holds its connection (and the Request and Response in it) through
  // its Done; wait until every one has finished or dropped it. Their completions are posted to
  // the stopped io_context and never run.
  {
    std::unique_lock<std::mutex> exchanges_lock(exchanges_mu);
    exchanges_cv.wait(exchanges_lock, [this] { return exchanges == 0; });
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
  for (int t : {options.idle_timeout_seconds, options.handshake_timeout_seconds,
                options.header_timeout_seconds, options.body_timeout_seconds}) {
    if (t <= 0) return InvalidArgument("http::Server timeouts must be > 0");
  }
  if (options.max_connections_per_address == 0) {
    return InvalidArgument("max_connections_per_address must be > 0");
  }
  if (options.max_connections == 0) options.max_connections = DefaultMaxConnections();
  try {
    auto impl = std::make_unique<Impl>();
    impl->options = std::move(options);
    impl->handler = std::move(handler);
    impl->clock = impl->options.clock ? impl->options.clock : SystemClock::Default();
    impl->random = impl->options.random ? impl->options.random : SecureRandom::Default();
    impl->metrics = impl->options.metrics;
    impl->idle_timeout = std::chrono::seconds(impl->options.idle_timeout_seconds);
    impl->handshake_timeout = std::chrono::seconds(impl->options.handshake_timeout_seconds);
    impl->header_timeout = std::chrono::seconds(impl->options.header_timeout_seconds);
    impl->body_timeout = std::chrono::seconds(impl->options.body_timeout_seconds);
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

size_t Server::max_connections() const { return impl_->options.max_connections; }

void Server::Stop() { impl_->Stop(); }

Result<uint64_t> RaiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return Internal("cannot read RLIMIT_NOFILE: " + std::string(std::strerror(errno)));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace meridian::http
