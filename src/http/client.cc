#include "http/client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>

#include "common/encoding.h"

namespace meridian::http {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr uint64_t kMaxResponseBody = 256 << 20;

Status NetworkError(std::string_view what, const error_code& ec) {
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    return InvalidArgument(std::string(what) + ": malformed response: " + ec.message());
  }
  return Status(Code::kUnavailable, std::string(what) + ": " + ec.message());
}

}  // namespace

std::optional<std::string_view> ClientResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

struct Client::Impl {
  std::string host;
  uint16_t port = 0;
  std::string host_header;
  bool tls = true;
  std::chrono::milliseconds timeout{30000};
  std::optional<std::chrono::steady_clock::time_point> deadline;
  asio::io_context ioc{1};
  ssl::context ctx{ssl::context::tls_client};
  // Exactly one of the two is set while a connection is open.
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_stream;
  std::unique_ptr<beast::tcp_stream> plain_stream;
  beast::flat_buffer buffer;

  bool open() const { return tls_stream || plain_stream; }

  beast::tcp_stream& Lowest() {
    return tls_stream ? beast::get_lowest_layer(*tls_stream) : *plain_stream;
  }

  // Calls f with the open stream, whichever type it is.
  template <typename F>
  void WithStream(F&& f) {
    if (tls_stream) {
      f(*tls_stream);
    } else {
      f(*plain_stream);
    }
  }

  // Bounds the next operation on the connection.
  void Arm() {
    if (deadline) {
      Lowest().expires_at(*deadline);
    } else {
      Lowest().expires_after(timeout);
    }
  }

  // Runs the io_context until the operations started before it have completed (the stream's
  // timer bounds each of them).
  void RunPending() {
    ioc.restart();
    ioc.run();
  }

  Status Open() {
    Drop();
    if (deadline && std::chrono::steady_clock::now() >= *deadline) {
      return Status(Code::kUnavailable, "connect to " + host_header + ": deadline passed");
    }
    error_code ec;
    if (tls) {
      tls_stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, ctx);
      asio::ip::make_address(host, ec);
      if (ec && SSL_set_tlsext_host_name(tls_stream->native_handle(), host.c_str()) != 1) {
        return InvalidArgument("bad host name '" + host + "'");
      }
      if (ctx.native_handle() && SSL_CTX_get_verify_mode(ctx.native_handle()) != SSL_VERIFY_NONE) {
        tls_stream->set_verify_callback(ssl::host_name_verification(host), ec);
      }
    } else {
      plain_stream = std::make_unique<beast::tcp_stream>(ioc);
    }

    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(host, std::to_string(port),
                           [&](error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    RunPending();
    if (ec) {
      Drop();
      return NetworkError("resolve " + host, ec);
    }

    auto& tcp_layer = Lowest();
    Arm();
    tcp_layer.async_connect(endpoints, [&](error_code e, const tcp::endpoint&) { ec = e; });
    RunPending();
    if (ec) {
      Drop();
      return NetworkError("connect to " + host_header, ec);
    }
    tcp_layer.socket().set_option(tcp::no_delay(true), ec);
    if (!tls) return Status::Ok();

    Arm();
    tls_stream->async_handshake(ssl::stream_base::client, [&](error_code e) { ec = e; });
    RunPending();
    if (ec) {
      Drop();
      return NetworkError("TLS handshake with " + host_header, ec);
    }
    return Status::Ok();
  }

  void Drop() {
    if (open()) {
      error_code ignored;
      Lowest().socket().close(ignored);
      RunPending();  // let cancelled operations finish before the stream goes away
      tls_stream.reset();
      plain_stream.reset();
    }
    buffer.clear();
  }

  // Writes with `write(stream, handler)` and reads one response. *got_some tells whether any
  // byte of a response arrived.
  template <typename WriteFn>
  Result<ClientResponse> Exchange(WriteFn write, bool head, bool* got_some) {
    Arm();
    error_code ec;
    WithStream([&](auto& stream) { write(stream, [&](error_code e, size_t) { ec = e; }); });
    RunPending();
    *got_some = false;
    if (ec) {
      Drop();
      return NetworkError("send", ec);
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxResponseBody);
    parser.skip(head);
    Arm();
    WithStream([&](auto& stream) {
      bhttp::async_read(stream, buffer, parser, [&](error_code e, size_t) { ec = e; });
    });
    RunPending();
    *got_some = parser.got_some();
    if (ec) {
      Drop();
      return NetworkError("receive", ec);
    }
    auto& msg = parser.get();
    ClientResponse out;
    out.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) {
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    out.body = std::move(msg.body());
    if (!msg.keep_alive()) Drop();
    return out;
  }
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_) impl_->Drop();
}

Result<std::unique_ptr<Client>> Client::Connect(std::string host, uint16_t port, std::string ca_pem,
                                                int timeout_seconds) {
  ClientOptions options;
  options.ca_pem = std::move(ca_pem);
  options.timeout = std::chrono::seconds(timeout_seconds > 0 ? timeout_seconds : 30);
  return Connect(std::move(host), port, std::move(options));
}

Result<std::unique_ptr<Client>> Client::Connect(std::string host, uint16_t port,
                                                ClientOptions options) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->host = std::move(host);
    impl->port = port;
    impl->host_header =
        (impl->host.find(':') != std::string::npos ? "[" + impl->host + "]" : impl->host) + ":" +
        std::to_string(port);
    impl->tls = options.tls;
    impl->timeout = options.timeout.count() > 0 ? options.timeout : std::chrono::seconds(30);
    if (options.tls) {
      SSL_CTX_set_min_proto_version(impl->ctx.native_handle(), TLS1_2_VERSION);
      error_code ec;
      if (options.ca_pem.empty()) {
        impl->ctx.set_verify_mode(ssl::verify_none, ec);
      } else {
        impl->ctx.add_certificate_authority(asio::buffer(options.ca_pem), ec);
        if (ec) return InvalidArgument("cannot load the CA certificate: " + ec.message());
        impl->ctx.set_verify_mode(ssl::verify_peer, ec);
      }
      if (options.cert_pem.empty() != options.key_pem.empty()) {
        return InvalidArgument("a client certificate needs both the certificate and its key");
      }
      if (!options.cert_pem.empty()) {
        impl->ctx.use_certificate_chain(asio::buffer(options.cert_pem), ec);
        if (ec) return InvalidArgument("cannot load the client certificate: " + ec.message());
        impl->ctx.use_private_key(asio::buffer(options.key_pem), ssl::context::pem, ec);
        if (ec) return InvalidArgument("cannot load the client key: " + ec.message());
      }
    }
    MERIDIAN_RETURN_IF_ERROR(impl->Open());
    return std::unique_ptr<Client>(new Client(std::move(impl)));
  } catch (const std::exception& e) {
    return Internal(std::string("http::Client: ") + e.what());
  }
}

Result<ClientResponse> Client::Send(std::string method, std::string target,
                                    std::vector<std::pair<std::string, std::string>> headers,
                                    std::string body) {
  try {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    bool has_host = false;
    for (const auto& [name, value] : headers) {
      has_host |= EqualsIgnoreCase(name, "host");
      req.insert(name, value);
    }
    if (!has_host) req.set(bhttp::field::host, impl_->host_header);
    req.body() = std::move(body);
    req.prepare_payload();
    for (int attempt = 0;; ++attempt) {
      bool reused = impl_->open();
      if (!reused) MERIDIAN_RETURN_IF_ERROR(impl_->Open());
      bool got_some = false;
      auto res = impl_->Exchange(
          [&req](auto& stream, auto handler) { bhttp::async_write(stream, req, handler); },
          method == "HEAD", &got_some);
      // A kept-alive connection the server had already closed: nothing of this request was
      // answered, so send it once more on a fresh connection.
      if (res.ok() || !reused || got_some || attempt > 0 ||
          res.status().code() != Code::kUnavailable) {
        return res;
      }
    }
  } catch (const std::exception& e) {
    impl_->Drop();
    return Internal(std::string("http::Client: ") + e.what());
  }
}

Result<ClientResponse> Client::SendRaw(std::string_view bytes) {
  try {
    if (!impl_->open()) MERIDIAN_RETURN_IF_ERROR(impl_->Open());
    bool got_some = false;
    return impl_->Exchange(
        [bytes](auto& stream, auto handler) {
          if (bytes.empty()) {
            handler(error_code(), 0);
          } else {
            asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), handler);
          }
        },
        false, &got_some);
  } catch (const std::exception& e) {
    impl_->Drop();
    return Internal(std::string("http::Client: ") + e.what());
  }
}

void Client::set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline) {
  impl_->deadline = deadline;
}

bool Client::connected() const { return impl_->open(); }

}  // namespace meridian::http
