#include "cluster/etcd_client.h"

#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "common/encoding.h"
#include "http/client.h"

namespace meridian::cluster {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxIdlePerEndpoint = 4;

// gRPC status codes, as the gateway reports them in an error body's "code".
constexpr int64_t kGrpcInvalidArgument = 3;
constexpr int64_t kGrpcDeadlineExceeded = 4;
constexpr int64_t kGrpcNotFound = 5;
constexpr int64_t kGrpcPermissionDenied = 7;
constexpr int64_t kGrpcResourceExhausted = 8;
constexpr int64_t kGrpcFailedPrecondition = 9;
constexpr int64_t kGrpcUnavailable = 14;
constexpr int64_t kGrpcUnauthenticated = 16;

Status Malformed(std::string_view what) {
  return Internal("etcd: malformed answer: " + std::string(what));
}

// An int64 field of the gateway's JSON: a decimal string (as proto3's JSON mapping writes them)
// or a number; absent means 0, as proto3 leaves out zero values.
Result<int64_t> Int64Field(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(name);
  if (v == nullptr) return int64_t{0};
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= INT64_MAX) return static_cast<int64_t>(v->get_uint64());
  if (v->is_string()) {
    const json::string& s = v->get_string();
    int64_t out = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec == std::errc() && end == s.data() + s.size()) return out;
  }
  return Malformed("field '" + std::string(name) + "' is not an int64");
}

// A bytes field (base64); absent means empty.
Result<std::string> BytesField(const json::object& obj, std::string_view name) {
  const json::value* v = obj.if_contains(name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return Malformed("field '" + std::string(name) + "' is not a string");
  std::optional<std::string> out = Base64Decode(v->get_string());
  if (!out) return Malformed("field '" + std::string(name) + "' is not base64");
  return std::move(*out);
}

Result<json::object> ParseObject(std::string_view body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return Malformed("not a JSON object");
  return std::move(v.as_object());
}

Result<int64_t> HeaderRevision(const json::object& answer) {
  const json::value* header = answer.if_contains("header");
  if (header == nullptr || !header->is_object()) return Malformed("no header");
  MERIDIAN_ASSIGN_OR_RETURN(int64_t revision, Int64Field(header->get_object(), "revision"));
  if (revision <= 0) return Malformed("no revision in the header");
  return revision;
}

Result<KeyValue> ParseKeyValue(const json::value& v) {
  if (!v.is_object()) return Malformed("a kv is not an object");
  const json::object& obj = v.get_object();
  KeyValue kv;
  MERIDIAN_ASSIGN_OR_RETURN(kv.key, BytesField(obj, "key"));
  MERIDIAN_ASSIGN_OR_RETURN(kv.value, BytesField(obj, "value"));
  MERIDIAN_ASSIGN_OR_RETURN(kv.mod_revision, Int64Field(obj, "mod_revision"));
  MERIDIAN_ASSIGN_OR_RETURN(kv.create_revision, Int64Field(obj, "create_revision"));
  MERIDIAN_ASSIGN_OR_RETURN(kv.lease, Int64Field(obj, "lease"));
  return kv;
}

Result<std::vector<KeyValue>> ParseRange(std::string_view body) {
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  std::vector<KeyValue> out;
  const json::value* kvs = answer.if_contains("kvs");
  if (kvs == nullptr) return out;
  if (!kvs->is_array()) return Malformed("kvs is not an array");
  for (const json::value& v : kvs->get_array()) {
    MERIDIAN_ASSIGN_OR_RETURN(KeyValue kv, ParseKeyValue(v));
    out.push_back(std::move(kv));
  }
  return out;
}

// The first key after every key that starts with `prefix` ("\0", all keys, for an empty one).
std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

// The Status for a non-200 answer of the gateway ({"error", "message", "code"}).
Status ErrorAnswer(int http_status, std::string_view body) {
  auto parsed = ParseObject(body);
  if (!parsed.ok()) {
    return Internal("etcd: HTTP " + std::to_string(http_status) + " without an error body");
  }
  auto code = Int64Field(*parsed, "code");
  std::string message = "etcd: ";
  if (const json::value* m = parsed->if_contains("message"); m != nullptr && m->is_string()) {
    message += m->get_string();
  } else {
    message += "HTTP " + std::to_string(http_status);
  }
  switch (code.ok() ? *code : -1) {
    case kGrpcInvalidArgument:
      return InvalidArgument(message);
    case kGrpcNotFound:
      return NotFound(message);
    case kGrpcPermissionDenied:
      return PermissionDenied(message);
    case kGrpcUnauthenticated:
      return Unauthenticated(message);
    case kGrpcFailedPrecondition:
      return Status(Code::kFailedPrecondition, message);
    case kGrpcResourceExhausted:
      return Status(Code::kResourceExhausted, message);
    case kGrpcUnavailable:
    case kGrpcDeadlineExceeded:
      return Status(Code::kUnavailable, message);
    default:
      return Internal(message);
  }
}

// "host:port" or "[v6]:port", with an optional http:// or https:// in front.
bool ParseEndpoint(std::string_view text, std::string* host, uint16_t* port) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (StartsWith(text, scheme)) text.remove_prefix(scheme.size());
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.front() == '[') {
    if (h.size() < 3 || h.back() != ']') return false;
    h = h.substr(1, h.size() - 2);
  } else if (h.find(':') != std::string_view::npos) {
    return false;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535) return false;
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return true;
}

std::string Serialize(const json::object& body) { return json::serialize(body); }

}  // namespace

struct EtcdClient::Endpoint {
  std::string name;  // as configured, for messages
  std::string host;
  uint16_t port = 0;
  std::vector<std::unique_ptr<http::Client>> idle;  // guarded by EtcdClient::mu_
};

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdOptions options) {
  if (options.endpoints.empty()) return InvalidArgument("etcd: no endpoint");
  if (options.tls && options.ca_pem.empty()) {
    return InvalidArgument("etcd: TLS needs the CA certificate");
  }
  if (options.timeout.count() <= 0) return InvalidArgument("etcd: the timeout must be positive");
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (const std::string& text : options.endpoints) {
    auto endpoint = std::make_unique<Endpoint>();
    endpoint->name = text;
    if (!ParseEndpoint(text, &endpoint->host, &endpoint->port)) {
      return InvalidArgument("etcd: bad endpoint '" + text + "' (want host:port)");
    }
    endpoints.push_back(std::move(endpoint));
  }
  return std::unique_ptr<EtcdClient>(new EtcdClient(std::move(options), std::move(endpoints)));
}

EtcdClient::EtcdClient(EtcdOptions options, std::vector<std::unique_ptr<Endpoint>> endpoints)
    : options_(std::move(options)), endpoints_(std::move(endpoints)) {}

EtcdClient::~EtcdClient() = default;

Result<std::unique_ptr<http::Client>> EtcdClient::TakeConnection(Endpoint& endpoint,
                                                                 Clock::time_point deadline) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!endpoint.idle.empty()) {
      std::unique_ptr<http::Client> client = std::move(endpoint.idle.back());
      endpoint.idle.pop_back();
      return client;
    }
  }
  http::ClientOptions options;
  options.tls = options_.tls;
  options.ca_pem = options_.ca_pem;
  options.cert_pem = options_.cert_pem;
  options.key_pem = options_.key_pem;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (options.timeout.count() <= 0) {
    return Status(Code::kUnavailable, "etcd: timed out before connecting to " + endpoint.name);
  }
  return http::Client::Connect(endpoint.host, endpoint.port, std::move(options));
}

void EtcdClient::ReturnConnection(Endpoint& endpoint, std::unique_ptr<http::Client> client) {
  if (!client->connected()) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (endpoint.idle.size() < kMaxIdlePerEndpoint) endpoint.idle.push_back(std::move(client));
}

void EtcdClient::DropConnections(Endpoint& endpoint) {
  std::vector<std::unique_ptr<http::Client>> dropped;
  std::lock_guard<std::mutex> lock(mu_);
  dropped.swap(endpoint.idle);
}

Result<std::string> EtcdClient::Call(std::string_view path, std::string body,
                                     bool retry_after_send) {
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  const size_t n = endpoints_.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  Status last(Code::kUnavailable, "timed out");
  for (size_t i = 0; i < n && Clock::now() < deadline; ++i) {
    const size_t index = (first + i) % n;
    Endpoint& endpoint = *endpoints_[index];
    auto client = TakeConnection(endpoint, deadline);
    if (!client.ok()) {
      if (client.status().code() != Code::kUnavailable) return client.status();
      last = client.status();
      continue;  // nothing was sent: the next endpoint may take it
    }
    (*client)->set_deadline(deadline);
    auto answer =
        (*client)->Send("POST", std::string(path), {{"Content-Type", "application/json"}}, body);
    if (!answer.ok()) {
      if (answer.status().code() != Code::kUnavailable) {
        return Malformed(endpoint.name + ": " + answer.status().message());
      }
      DropConnections(endpoint);  // its other connections are likely dead too
      preferred_.store((index + 1) % n, std::memory_order_relaxed);
      if (!retry_after_send) {
        return Status(Code::kUnavailable, "etcd: " + endpoint.name +
                                              " failed after the request was sent (outcome " +
                                              "unknown): " + answer.status().message());
      }
      last = answer.status();
      continue;
    }
    (*client)->set_deadline(std::nullopt);
    ReturnConnection(endpoint, std::move(*client));
    if (answer->status == 200) {
      preferred_.store(index, std::memory_order_relaxed);
      return std::move(answer->body);
    }
    Status error = ErrorAnswer(answer->status, answer->body);
    // A member without a leader (or otherwise unavailable) may be alone in a partition.
    if (error.code() == Code::kUnavailable && retry_after_send) {
      last = error;
      continue;
    }
    return error;
  }
  return Status(Code::kUnavailable, "etcd: no endpoint answered: " + last.message());
}

Result<std::optional<KeyValue>> EtcdClient::Get(std::string_view key) {
  json::object request{{"key", Base64Encode(key)}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/range", Serialize(request), true));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, ParseRange(body));
  if (kvs.empty()) return std::optional<KeyValue>();
  if (kvs.size() > 1 || kvs[0].key != key) return Malformed("range of one key");
  return std::optional<KeyValue>(std::move(kvs[0]));
}

Result<std::vector<KeyValue>> EtcdClient::GetPrefix(std::string_view prefix) {
  json::object request{{"key", Base64Encode(prefix.empty() ? std::string(1, '\0') : prefix)},
                       {"range_end", Base64Encode(PrefixEnd(prefix))}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/range", Serialize(request), true));
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<KeyValue> kvs, ParseRange(body));
  for (const KeyValue& kv : kvs) {
    if (!StartsWith(kv.key, prefix)) return Malformed("a key outside the prefix");
  }
  return kvs;
}

Result<int64_t> EtcdClient::Put(std::string_view key, std::string_view value, int64_t lease) {
  json::object request{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) request["lease"] = std::to_string(lease);
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/put", Serialize(request), false));
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  return HeaderRevision(answer);
}

Status EtcdClient::Delete(std::string_view key) {
  json::object request{{"key", Base64Encode(key)}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/deleterange", Serialize(request), true));
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  return HeaderRevision(answer).status();
}

Result<int64_t> EtcdClient::CompareAndSwap(std::string_view key, int64_t expected_mod_revision,
                                           std::string_view value, int64_t lease) {
  if (expected_mod_revision < 0) return InvalidArgument("etcd: negative revision");
  json::object compare{{"key", Base64Encode(key)}, {"result", "EQUAL"}};
  if (expected_mod_revision == 0) {
    compare["target"] = "CREATE";
    compare["create_revision"] = "0";
  } else {
    compare["target"] = "MOD";
    compare["mod_revision"] = std::to_string(expected_mod_revision);
  }
  json::object put{{"key", Base64Encode(key)}, {"value", Base64Encode(value)}};
  if (lease != 0) put["lease"] = std::to_string(lease);
  json::object request{{"compare", json::array{compare}},
                       {"success", json::array{json::object{{"request_put", put}}}}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/kv/txn", Serialize(request), false));
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  MERIDIAN_ASSIGN_OR_RETURN(int64_t revision, HeaderRevision(answer));
  const json::value* succeeded = answer.if_contains("succeeded");
  if (succeeded != nullptr && !succeeded->is_bool()) return Malformed("succeeded is not a bool");
  if (succeeded == nullptr || !succeeded->get_bool()) {
    return Status(Code::kFailedPrecondition, "etcd: '" + std::string(key) +
                                                 "' is not at revision " +
                                                 std::to_string(expected_mod_revision));
  }
  return revision;
}

Result<int64_t> EtcdClient::LeaseGrant(int64_t ttl_seconds) {
  if (ttl_seconds <= 0) return InvalidArgument("etcd: a lease needs a positive TTL");
  json::object request{{"TTL", std::to_string(ttl_seconds)}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/lease/grant", Serialize(request), false));
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  if (const json::value* error = answer.if_contains("error");
      error != nullptr && error->is_string() && !error->get_string().empty()) {
    return Internal("etcd: lease grant: " + std::string(error->get_string()));
  }
  MERIDIAN_ASSIGN_OR_RETURN(int64_t id, Int64Field(answer, "ID"));
  if (id == 0) return Malformed("lease grant without an ID");
  return id;
}

Result<int64_t> EtcdClient::LeaseKeepAlive(int64_t lease) {
  json::object request{{"ID", std::to_string(lease)}};
  // A streaming call in gRPC: the gateway answers each request message with {"result": ...}
  // (or {"error": ...}); one message in, one out.
  MERIDIAN_ASSIGN_OR_RETURN(std::string body,
                            Call("/v3/lease/keepalive", Serialize(request), true));
  MERIDIAN_ASSIGN_OR_RETURN(json::object answer, ParseObject(body));
  if (const json::value* error = answer.if_contains("error"); error != nullptr) {
    if (!error->is_object()) return Malformed("keepalive error is not an object");
    std::string text = json::serialize(*error);
    return ErrorAnswer(500, text);
  }
  const json::value* result = answer.if_contains("result");
  if (result == nullptr || !result->is_object()) return Malformed("keepalive without a result");
  MERIDIAN_ASSIGN_OR_RETURN(int64_t ttl, Int64Field(result->get_object(), "TTL"));
  if (ttl <= 0) return NotFound("etcd: lease " + std::to_string(lease) + " has expired");
  return ttl;
}

Status EtcdClient::LeaseRevoke(int64_t lease) {
  json::object request{{"ID", std::to_string(lease)}};
  MERIDIAN_ASSIGN_OR_RETURN(std::string body, Call("/v3/lease/revoke", Serialize(request), true));
  return ParseObject(body).status();
}

}  // namespace meridian::cluster
