#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>
#include <set>
#include <stdexcept>
#include <thread>

#include "common/encoding.h"
#include "common/random.h"
#include "http/client.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"
#include "crypto/tls_cert.h"

namespace meridian::http {
namespace {

namespace json = boost::json;

Request MakeRequest(std::string method, std::string_view target) {
  Request r;
  r.method = std::move(method);
  EXPECT_TRUE(ParseTarget(target, &r).ok()) << target;
  return r;
}

// The {"error":{"code":...}} of a JSON error body, or "" when the body has another shape.
std::string ErrorCode(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const auto* err = v.as_object().if_contains("error");
  if (!err || !err->is_object()) return "";
  const auto* code = err->as_object().if_contains("code");
  const auto* message = err->as_object().if_contains("message");
  if (!code || !code->is_string() || !message || !message->is_string()) return "";
  return std::string(code->get_string());
}

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// ---- Request helpers

TEST(MessageTest, ParseTargetDecodesPathAndQuery) {
  Request r = MakeRequest(
      "GET", "/v1.0/users/a%40b.com?%24top=5&%24filter=displayName+eq+%27x%27&flag&&x=1&x=2");
  EXPECT_EQ(r.path, "/v1.0/users/a@b.com");
  std::vector<std::pair<std::string, std::string>> want = {
      {"$top", "5"}, {"$filter", "displayName eq 'x'"}, {"flag", ""}, {"x", "1"}, {"x", "2"}};
  EXPECT_EQ(r.query, want);
  EXPECT_EQ(QueryParam(r, "x"), "1");
  EXPECT_EQ(QueryParam(r, "$top"), "5");
  EXPECT_EQ(QueryParam(r, "$TOP"), std::nullopt);
  EXPECT_EQ(QueryParam(r, "missing"), std::nullopt);
  EXPECT_EQ(r.target,
            "/v1.0/users/a%40b.com?%24top=5&%24filter=displayName+eq+%27x%27&flag&&x=1&x=2");
}

TEST(MessageTest, ParseTargetKeepsPlusInPathAndAcceptsAbsoluteForm) {
  EXPECT_EQ(MakeRequest("GET", "/a+b").path, "/a+b");
  Request r = MakeRequest("GET", "https://example.com:8443/x/y?k=v");
  EXPECT_EQ(r.path, "/x/y");
  EXPECT_EQ(QueryParam(r, "k"), "v");
  EXPECT_EQ(MakeRequest("GET", "https://example.com").path, "/");
  EXPECT_EQ(QueryParam(MakeRequest("GET", "https://example.com?a=1"), "a"), "1");
}

TEST(MessageTest, ParseTargetRejectsMalformedTargets) {
  for (std::string_view t :
       {"/a%zz", "/a%2", "/a%", "/a%00", "*", "", "/a b", "x/y", "/?q=%g1", "?a=1"}) {
    Request r;
    Status s = ParseTarget(t, &r);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << t;
  }
}

TEST(MessageTest, ParseTargetReplacesEarlierQuery) {
  Request r = MakeRequest("GET", "/a?x=1&y=2&z=3");
  ASSERT_TRUE(ParseTarget("/b?w=4", &r).ok());
  std::vector<std::pair<std::string, std::string>> want = {{"w", "4"}};
  EXPECT_EQ(r.query, want);
  ASSERT_TRUE(ParseTarget("/c", &r).ok());
  EXPECT_TRUE(r.query.empty());
  EXPECT_EQ(r.path, "/c");
}

TEST(MessageTest, HeaderLookupIsCaseInsensitive) {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(r.Header("content-type"), "application/json");
  EXPECT_EQ(r.Header("X-a"), "1");
  EXPECT_EQ(r.Header("missing"), std::nullopt);
}

TEST(MessageTest, SetJsonReplacesContentType) {
  Response res;
  res.headers.emplace_back("content-type", "text/plain");
  res.SetJson(201, "{}");
  EXPECT_EQ(res.status, 201);
  EXPECT_EQ(res.body, "{}");
  ASSERT_EQ(res.headers.size(), 1u);
  EXPECT_EQ(res.headers[0].second, "application/json");
}

// ---- Router

// A router whose handlers answer "<name> <param>=<value>..." so that tests see which route ran.
class RouterTest : public ::testing::Test {
 protected:
  void Add(const std::string& method, const std::string& pattern, const std::string& name) {
    router_.Add(method, pattern, [name](const Request&, const RouteParams& p, Response& res) {
      res.body = name;
      for (const char* key : {"id", "tenant", "owner"}) {
        if (!p.Get(key).empty()) res.body += " " + std::string(key) + "=" + std::string(p.Get(key));
      }
    });
  }
  // Dispatches and returns the body, recording the status and returned pattern.
  std::string Run(const std::string& method, std::string_view target) {
    Request req = MakeRequest(method, target);
    Response res;
    pattern_ = std::string(router_.Dispatch(req, res));
    status_ = res.status;
    last_ = res;
    return res.body;
  }

  Router router_;
  std::string pattern_;
  int status_ = 0;
  Response last_;
};

TEST_F(RouterTest, BindsParameters) {
  Add("GET", "/v1.0/users/{id}", "user");
  Add("GET", "/v1.0/users/{id}/memberOf", "memberOf");
  Add("POST", "/{tenant}/oauth2/v2.0/token", "token");
  EXPECT_EQ(Run("GET", "/v1.0/users/abc"), "user id=abc");
  EXPECT_EQ(pattern_, "/v1.0/users/{id}");
  EXPECT_EQ(Run("GET", "/v1.0/users/a%40b.com/memberOf"), "memberOf id=a@b.com");
  EXPECT_EQ(pattern_, "/v1.0/users/{id}/memberOf");
  EXPECT_EQ(Run("POST", "/contoso.com/oauth2/v2.0/token"), "token tenant=contoso.com");
  EXPECT_EQ(status_, 200);
}

TEST_F(RouterTest, LiteralsMatchCaseInsensitively) {
  Add("GET", "/v1.0/users/{id}/memberOf", "memberOf");
  EXPECT_EQ(Run("GET", "/V1.0/USERS/Abc/memberof"), "memberOf id=Abc");
}

TEST_F(RouterTest, LiteralBeatsParameter) {
  Add("GET", "/v1.0/users/{id}", "user");  // registered first on purpose
  Add("GET", "/v1.0/users/$count", "count");
  EXPECT_EQ(Run("GET", "/v1.0/users/$count"), "count");
  EXPECT_EQ(pattern_, "/v1.0/users/$count");
  EXPECT_EQ(Run("GET", "/v1.0/users/%24COUNT"), "count");
  EXPECT_EQ(Run("GET", "/v1.0/users/$counts"), "user id=$counts");
}

TEST_F(RouterTest, BacktracksFromLiteralToParameter) {
  Add("GET", "/v1.0/users/$count", "count");
  Add("GET", "/v1.0/users/{id}/memberOf", "memberOf");
  EXPECT_EQ(Run("GET", "/v1.0/users/$count/memberOf"), "memberOf id=$count");
}

TEST_F(RouterTest, ReferenceRoutes) {
  Add("POST", "/v1.0/groups/{id}/members/$ref", "add");
  Add("DELETE", "/v1.0/groups/{id}/members/{owner}/$ref", "remove");
  Add("GET", "/v1.0/groups/{id}/members", "list");
  EXPECT_EQ(Run("POST", "/v1.0/groups/g1/members/$ref"), "add id=g1");
  EXPECT_EQ(Run("DELETE", "/v1.0/groups/g1/members/u2/$ref"), "remove id=g1 owner=u2");
  EXPECT_EQ(pattern_, "/v1.0/groups/{id}/members/{owner}/$ref");
  EXPECT_EQ(Run("GET", "/v1.0/groups/g1/members"), "list id=g1");
}

TEST_F(RouterTest, NotFoundHasJsonErrorAndUnmatchedLabel) {
  Add("GET", "/v1.0/users/{id}", "user");
  for (std::string_view target :
       {"/v1.0/groups", "/v1.0/users", "/v1.0/users/", "/v1.0/users//x", "/", "/v1.0/users/a/b"}) {
    Run("GET", target);
    EXPECT_EQ(status_, 404) << target;
    EXPECT_EQ(pattern_, "unmatched") << target;
    EXPECT_EQ(ErrorCode(last_.body), "Request_ResourceNotFound") << last_.body;
  }
}

TEST_F(RouterTest, MethodNotAllowedHasJsonErrorAndAllow) {
  Add("GET", "/v1.0/users/{id}", "get");
  Add("PATCH", "/v1.0/users/{id}", "patch");
  Run("PUT", "/v1.0/users/x");
  EXPECT_EQ(status_, 405);
  EXPECT_EQ(pattern_, "/v1.0/users/{id}");
  EXPECT_EQ(ErrorCode(last_.body), "Request_BadRequest") << last_.body;
  bool has_allow = false;
  for (const auto& [k, v] : last_.headers) {
    if (k == "Allow") {
      has_allow = true;
      EXPECT_EQ(v, "GET, PATCH, HEAD");
    }
    if (k == "Content-Type") {
      EXPECT_EQ(v, "application/json");
    }
  }
  EXPECT_TRUE(has_allow);
  Run("get", "/v1.0/users/x");  // methods are case-sensitive
  EXPECT_EQ(status_, 405);
}

TEST_F(RouterTest, MethodOnAnotherMatchingRouteWins) {
  Add("GET", "/a/$x", "literal");
  Add("DELETE", "/a/{id}", "param");
  EXPECT_EQ(Run("DELETE", "/a/$x"), "param id=$x");
  EXPECT_EQ(Run("GET", "/a/$x"), "literal");
  Run("POST", "/a/$x");
  EXPECT_EQ(status_, 405);
  EXPECT_EQ(pattern_, "/a/$x");
}

TEST_F(RouterTest, HeadFallsBackToGetAndRootRoute) {
  Add("GET", "/", "root");
  EXPECT_EQ(Run("HEAD", "/"), "root");
  EXPECT_EQ(pattern_, "/");
}

TEST(RouterDeathTest, MalformedPatternsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto noop = [](const Request&, const RouteParams&, Response&) {};
  EXPECT_DEATH(Router().Add("GET", "users", noop), "must start with");
  EXPECT_DEATH(Router().Add("GET", "/a//b", noop), "empty segment");
  EXPECT_DEATH(Router().Add("GET", "/a/{id", noop), "unclosed");
  EXPECT_DEATH(Router().Add("GET", "/a/{id}/{id}", noop), "repeated");
  EXPECT_DEATH(Router().Add("GET", "/a/x{id}", noop), "inside a literal");
  EXPECT_DEATH(
      {
        Router r;
        r.Add("GET", "/a/{id}", noop);
        r.Add("GET", "/A/{other}", noop);
      },
      "duplicate route");
}

// ---- Metrics

TEST(MetricsTest, RendersCounterAndHistogram) {
  Metrics m;
  m.ObserveRequest("/v1.0/users/{id}", "GET", 200, 0.003);
  m.ObserveRequest("/v1.0/users/{id}", "GET", 200, 0.003);
  m.ObserveRequest("/v1.0/users/{id}", "GET", 404, 0.2);
  m.ObserveRequest("unmatched", "POST", 404, 0.0001);
  std::string text = m.RenderPrometheus();
  for (std::string_view line : {
           "# HELP meridian_http_requests_total ",
           "# TYPE meridian_http_requests_total counter\n",
           "\nmeridian_http_requests_total{route=\"/v1.0/users/{id}\",method=\"GET\","
           "status=\"200\"} 2\n",
           "\nmeridian_http_requests_total{route=\"/v1.0/users/{id}\",method=\"GET\","
           "status=\"404\"} 1\n",
           "\nmeridian_http_requests_total{route=\"unmatched\",method=\"POST\",status=\"404\"} 1\n",
           "# HELP meridian_http_request_duration_seconds ",
           "# TYPE meridian_http_request_duration_seconds histogram\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"/v1.0/users/{id}\","
           "method=\"GET\",le=\"0.0025\"} 0\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"/v1.0/users/{id}\","
           "method=\"GET\",le=\"0.005\"} 2\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"/v1.0/users/{id}\","
           "method=\"GET\",le=\"0.1\"} 2\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"/v1.0/users/{id}\","
           "method=\"GET\",le=\"0.25\"} 3\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"/v1.0/users/{id}\","
           "method=\"GET\",le=\"+Inf\"} 3\n",
           "\nmeridian_http_request_duration_seconds_sum{route=\"/v1.0/users/{id}\","
           "method=\"GET\"} 0.206",
           "\nmeridian_http_request_duration_seconds_count{route=\"/v1.0/users/{id}\","
           "method=\"GET\"} 3\n",
           "\nmeridian_http_request_duration_seconds_bucket{route=\"unmatched\","
           "method=\"POST\",le=\"0.0005\"} 1\n",
       }) {
    EXPECT_TRUE(Contains(text, line)) << "missing: " << line << "\nin:\n" << text;
  }
  // Every bucket bound appears once per series.
  size_t buckets = 0;
  for (size_t pos = 0; (pos = text.find("_bucket{route=\"unmatched\"", pos)) != std::string::npos;
       ++pos) {
    ++buckets;
  }
  EXPECT_EQ(buckets, Metrics::kNumBuckets);
}

TEST(MetricsTest, EscapesLabelValues) {
  Metrics m;
  m.ObserveRequest("a\"b\\c\nd", "GET", 200, 0.001);
  EXPECT_TRUE(Contains(m.RenderPrometheus(),
                       "meridian_http_requests_total{route=\"a\\\"b\\\\c\\nd\",method=\"GET\","
                       "status=\"200\"} 1\n"));
}

TEST(MetricsTest, GaugesAreReadAtScrapeTime) {
  Metrics m;
  std::atomic<int> lsn{7};
  m.AddGauge("meridian_partition_last_lsn", "Last LSN\nof each partition", [&lsn] {
    return std::vector<std::pair<std::string, double>>{
        {"partition=\"emea-1\"", static_cast<double>(lsn.load())}, {"", 1.5}};
  });
  std::string text = m.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "# HELP meridian_partition_last_lsn Last LSN\\nof each partition\n"));
  EXPECT_TRUE(Contains(text, "# TYPE meridian_partition_last_lsn gauge\n"));
  EXPECT_TRUE(Contains(text, "\nmeridian_partition_last_lsn{partition=\"emea-1\"} 7\n"));
  EXPECT_TRUE(Contains(text, "\nmeridian_partition_last_lsn 1.5\n"));
  lsn = 9;
  EXPECT_TRUE(
      Contains(m.RenderPrometheus(), "\nmeridian_partition_last_lsn{partition=\"emea-1\"} 9\n"));
}

TEST(MetricsTest, ConcurrentObservationsAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 8, kEach = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kEach; ++i) {
        m.ObserveRequest("/r", t % 2 ? "GET" : "POST", 200, 0.001);
      }
    });
  }
  std::string mid = m.RenderPrometheus();  // concurrent with the writers; must not crash
  for (auto& t : threads) t.join();
  std::string text = m.RenderPrometheus();
  std::string n = std::to_string(kThreads / 2 * kEach);
  EXPECT_TRUE(Contains(
      text, "meridian_http_requests_total{route=\"/r\",method=\"GET\",status=\"200\"} " + n));
  EXPECT_TRUE(Contains(
      text, "meridian_http_request_duration_seconds_count{route=\"/r\",method=\"POST\"} " + n));
}

// ---- Server and Client

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cert = crypto::GenerateSelfSignedCertificate({"localhost"}, {"127.0.0.1"}, 30);
    ASSERT_TRUE(cert.ok()) << cert.status().ToString();
    cert_ = new crypto::CertificateAndKey(std::move(*cert));
  }
  static void TearDownTestSuite() {
    delete cert_;
    cert_ = nullptr;
  }

  ServerTest() {
    router_.Add("GET", "/echo/{id}", [](const Request& req, const RouteParams& p, Response& res) {
      json::object o{{"id", p.Get("id")},
                     {"remote", req.remote_address},
                     {"q", QueryParam(req, "q").value_or("")},
                     {"request_id", res.request_id}};
      res.SetJson(200, json::serialize(o));
    });
    router_.Add("POST", "/echo", [](const Request& req, const RouteParams&, Response& res) {
      res.status = 200;
      res.body = req.body;
      res.SetHeader("Content-Type", "application/octet-stream");
    });
    router_.Add("GET", "/throw", [](const Request&, const RouteParams&, Response&) {
      throw std::runtime_error("handler bug");
    });
    router_.Add("GET", "/big", [](const Request&, const RouteParams&, Response& res) {
      res.body.assign(100000, 'x');
      res.body.back() = 'y';
      res.SetHeader("Content-Type", "text/plain");
    });
    router_.Add("GET", "/empty",
                [](const Request&, const RouteParams&, Response& res) { res.status = 204; });
    router_.Add("GET", "/evil", [](const Request&, const RouteParams&, Response& res) {
      res.SetJson(200, "{}");
      res.headers.emplace_back("X-Evil", "a\r\nInjected: 1");
      res.headers.emplace_back("Content-Length", "999");
      res.headers.emplace_back("X-Fine", "ok");
    });
  }

  std::unique_ptr<Server> StartServer(ServerOptions options = {}) {
    options.cert_pem = cert_->cert_pem;
    options.key_pem = cert_->key_pem;
    if (options.threads == 0) options.threads = 2;
    auto server = Server::Start(options, [this](const Request& req, Response& res) {
      res.route_label = router_.Dispatch(req, res);
    });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  std::unique_ptr<Client> Connect(uint16_t port) {
    auto client = Client::Connect("127.0.0.1", port, cert_->cert_pem, 10);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static crypto::CertificateAndKey* cert_;
  Router router_;
};

crypto::CertificateAndKey* ServerTest::cert_ = nullptr;

TEST_F(ServerTest, ServesRoutesWithStandardHeaders) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  EXPECT_NE(server->port(), 0);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->Send("GET", "/echo/abc?q=hello%20world", {}, "");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  json::value body = json::parse(res->body);
  EXPECT_EQ(body.at("id").as_string(), "abc");
  EXPECT_EQ(body.at("q").as_string(), "hello world");
  EXPECT_TRUE(StartsWith(std::string(body.at("remote").as_string()), "127.0.0.1:"));
  EXPECT_EQ(res->Header("content-type"), "application/json");
  EXPECT_EQ(res->Header("Server"), "meridian");
  EXPECT_EQ(res->Header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
  EXPECT_EQ(res->Header("Content-Length"), std::to_string(res->body.size()));
  auto date = res->Header("Date");
  ASSERT_TRUE(date);
  EXPECT_EQ(date->size(), 29u);
  EXPECT_TRUE(date->ends_with(" GMT"));
  auto id = res->Header("request-id");
  ASSERT_TRUE(id);
  EXPECT_TRUE(IsUuid(*id));
  EXPECT_EQ(body.at("request_id").as_string(), *id);  // the handler saw the same id
  EXPECT_FALSE(res->Header("Connection"));            // HTTP/1.1 keep-alive is implicit
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowedOverTheWire) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->Send("GET", "/nope", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 404);
  EXPECT_EQ(ErrorCode(res->body), "Request_ResourceNotFound") << res->body;
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  res = client->Send("DELETE", "/echo/1", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(ErrorCode(res->body), "Request_BadRequest") << res->body;
  EXPECT_EQ(res->Header("Allow"), "GET, HEAD");
  EXPECT_TRUE(client->connected());
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  std::string remote;
  std::set<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto res = client->Send("GET", "/echo/" + std::to_string(i), {}, "");
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    ASSERT_EQ(res->status, 200);
    json::value body = json::parse(res->body);
    EXPECT_EQ(body.at("id").as_string(), std::to_string(i));
    std::string r(body.at("remote").as_string());
    if (i == 0) remote = r;
    EXPECT_EQ(r, remote) << "request " << i << " came on a new connection";
    ids.insert(std::string(*res->Header("request-id")));
    // Bodies of different sizes on the same connection.
    auto echo = client->Send("POST", "/echo", {}, std::string(i * 1000, 'a' + i));
    ASSERT_TRUE(echo.ok());
    EXPECT_EQ(echo->body, std::string(i * 1000, 'a' + i));
  }
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_TRUE(client->connected());
}

TEST_F(ServerTest, OversizedBodyGets413AndClose) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto ok = client->Send("POST", "/echo", {}, std::string(1024, 'a'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200);

  // Content-Length over the limit (small, and large enough to exceed the socket buffers).
  for (size_t size : {size_t{1025}, size_t{4} << 20}) {
    auto res = client->Send("POST", "/echo", {}, std::string(size, 'a'));
    ASSERT_TRUE(res.ok()) << size << ": " << res.status().ToString();
    EXPECT_EQ(res->status, 413);
    EXPECT_EQ(ErrorCode(res->body), "Request_EntityTooLarge") << res->body;
    EXPECT_EQ(res->Header("Connection"), "close");
    EXPECT_FALSE(client->connected());
  }

  // A chunked body that grows past the limit.
  std::string chunked =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "400\r\n" +
      std::string(1024, 'b') + "\r\n10\r\n" + std::string(16, 'c') + "\r\n0\r\n\r\n";
  auto res = client->SendRaw(chunked);
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 413);

  // Header fields over the header limit.
  res = client->Send("GET", "/echo/x", {{"X-Big", std::string(32 << 10, 'h')}}, "");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 413);
  EXPECT_EQ(ErrorCode(res->body), "Request_EntityTooLarge");

  // The server still serves.
  res = client->Send("GET", "/echo/after", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  for (std::string_view raw : {
           std::string_view("GARBAGE\r\n\r\n"),
           std::string_view("GET /echo/x HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n"),
           std::string_view("GET /echo/x HTTP/9.9\r\n\r\n"),
           std::string_view("POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
       }) {
    auto res = client->SendRaw(raw);
    ASSERT_TRUE(res.ok()) << raw << ": " << res.status().ToString();
    EXPECT_EQ(res->status, 400) << raw;
    EXPECT_EQ(ErrorCode(res->body), "Request_BadRequest") << res->body;
    EXPECT_EQ(res->Header("Connection"), "close");
    EXPECT_FALSE(client->connected());
  }
  // A well-formed request with a bad percent-encoding: 400, connection kept.
  auto res = client->Send("GET", "/echo/%zz", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 400);
  EXPECT_EQ(ErrorCode(res->body), "Request_BadRequest");
  EXPECT_TRUE(client->connected());
}

TEST_F(ServerTest, GarbageNeverTakesTheServerDown) {
  constexpr uint64_t kSeed = 20261121;
  std::cout << "seed " << kSeed << std::endl;
  auto random = NewSeededRandom(kSeed);
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  for (int i = 0; i < 40; ++i) {
    // Random bytes, terminated so the server has a complete (if nonsensical) header block.
    std::string raw = random->Bytes(1 + i * 7);
    if (i % 2) {
      for (char& c : raw) c = static_cast<char>(' ' + static_cast<unsigned char>(c) % 95);
    }
    raw += "\r\n\r\n";
    auto res = client->SendRaw(raw);
    if (res.ok()) {
      EXPECT_TRUE(res->status == 400 || res->status == 413) << i << ": " << res->status;
    }
  }
  auto res = client->Send("GET", "/echo/still-up", {}, "");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);

  // The target parser on random input: never crashes, and accepts only what starts with '/'.
  for (int i = 0; i < 2000; ++i) {
    std::string t = "/" + random->Bytes(i % 40);
    Request r;
    if (ParseTarget(t, &r).ok()) {
      EXPECT_EQ(r.path[0], '/');
      EXPECT_EQ(r.path.find('\0'), std::string::npos);
    }
  }
}

TEST_F(ServerTest, HandlerExceptionGives500AndServerSurvives) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->Send("GET", "/throw", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(ErrorCode(res->body), "InternalServerError");
  EXPECT_TRUE(IsUuid(res->Header("request-id").value_or("")));
  res = client->Send("GET", "/echo/1", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, ResponseFramingBelongsToTheServer) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->Send("GET", "/evil", {}, "");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "{}");
  EXPECT_FALSE(res->Header("X-Evil"));
  EXPECT_FALSE(res->Header("Injected"));
  EXPECT_EQ(res->Header("Content-Length"), "2");
  EXPECT_EQ(res->Header("X-Fine"), "ok");

  res = client->Send("GET", "/big", {}, "");  // written from the Response, not copied
  ASSERT_TRUE(res.ok());
  ASSERT_EQ(res->body.size(), 100000u);
  EXPECT_EQ(res->body.back(), 'y');
  EXPECT_EQ(res->Header("Content-Type"), "text/plain");

  res = client->Send("HEAD", "/big", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Content-Length"), "100000");
  EXPECT_TRUE(res->body.empty());

  res = client->Send("GET", "/empty", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 204);
  EXPECT_FALSE(res->Header("Content-Length"));
  EXPECT_FALSE(res->Header("Content-Type"));

  // Still in step after all of that.
  res = client->Send("GET", "/echo/z", {}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(client->connected());
}

TEST_F(ServerTest, ConnectionCloseAndHttp10) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->Send("GET", "/echo/1", {{"Connection", "close"}}, "");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Connection"), "close");
  EXPECT_FALSE(client->connected());
  res = client->Send("GET", "/echo/2", {}, "");  // reconnects
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);

  res = client->SendRaw("GET /echo/3 HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Connection"), "close");

  res = client->SendRaw("GET /echo/4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Connection"), "keep-alive");
  EXPECT_TRUE(client->connected());
}

TEST_F(ServerTest, ExpectContinue) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  auto res = client->SendRaw(
      "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 100);
  res = client->SendRaw("hello");
  ASSERT_TRUE(res.ok()) << res.status().ToString();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "hello");
}

TEST_F(ServerTest, MetricsCountRequestsByRoute) {
  Metrics metrics;
  ServerOptions options;
  options.metrics = &metrics;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(client->Send("GET", "/echo/" + std::to_string(i), {}, "").ok());
  ASSERT_TRUE(client->Send("GET", "/nope", {}, "").ok());
  ASSERT_TRUE(client->Send("BREW", "/echo/1", {}, "").ok());
  ASSERT_TRUE(client->SendRaw("GARBAGE\r\n\r\n").ok());
  // Metrics are recorded before the response is written, so they are visible now.
  std::string text = metrics.RenderPrometheus();
  for (
      std::string_view line : {
          "\nmeridian_http_requests_total{route=\"/echo/{id}\",method=\"GET\",status=\"200\"} 3\n",
          "\nmeridian_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n",
          "\nmeridian_http_requests_total{route=\"/echo/{id}\",method=\"other\",status=\"405\"} "
          "1\n",
          "\nmeridian_http_requests_total{route=\"unmatched\",method=\"other\",status=\"400\"} 1\n",
          "\nmeridian_http_request_duration_seconds_bucket{route=\"/echo/{id}\",method=\"GET\","
          "le=\"+Inf\"} 3\n",
          "\nmeridian_http_request_duration_seconds_count{route=\"/echo/{id}\",method=\"GET\"} 3\n",
          "\nmeridian_http_request_duration_seconds_sum{route=\"/echo/{id}\",method=\"GET\"} ",
      }) {
    EXPECT_TRUE(Contains(text, line)) << "missing: " << line << "\nin:\n" << text;
  }
}

TEST_F(ServerTest, StopReturnsPromptlyWithIdleConnectionOpen) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Send("GET", "/echo/1", {}, "").ok());
  auto idle = Connect(server->port());  // handshaken, never sent a request
  ASSERT_TRUE(idle);
  auto start = std::chrono::steady_clock::now();
  server->Stop();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took, std::chrono::seconds(2));
  server->Stop();  // idempotent
  // The connection was closed, and nothing listens any more.
  auto res = client->Send("GET", "/echo/2", {}, "");
  EXPECT_FALSE(res.ok());
  EXPECT_EQ(res.status().code(), Code::kUnavailable);
  server.reset();
}

TEST_F(ServerTest, IdleConnectionsAreClosed) {
  ServerOptions options;
  options.idle_timeout_seconds = 1;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  auto client = Connect(server->port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Send("GET", "/echo/1", {}, "").ok());
  auto res = client->SendRaw("");  // waits for a response that never comes: the server closes
  EXPECT_FALSE(res.ok());
  EXPECT_FALSE(client->connected());
}

TEST_F(ServerTest, ConcurrentClients) {
  ServerOptions options;
  options.threads = 4;
  auto server = StartServer(options);
  ASSERT_TRUE(server);
  constexpr int kClients = 8, kRequests = 50;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = Client::Connect("127.0.0.1", server->port(), cert_->cert_pem, 10);
      if (!client.ok()) return;
      for (int i = 0; i < kRequests; ++i) {
        std::string id = std::to_string(c) + "-" + std::to_string(i);
        auto res = (*client)->Send("GET", "/echo/" + id, {}, "");
        if (!res.ok() || res->status != 200) return;
        if (json::parse(res->body).at("id").as_string() != id) return;
        auto echo = (*client)->Send("POST", "/echo", {}, id);
        if (!echo.ok() || echo->body != id) return;
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
}

TEST_F(ServerTest, StartFailures) {
  ServerOptions options;
  options.cert_pem = "not a certificate";
  options.key_pem = cert_->key_pem;
  auto noop = [](const Request&, Response&) {};
  auto s = Server::Start(options, noop);
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);

  auto other = crypto::GenerateSelfSignedCertificate({"localhost"}, {"127.0.0.1"}, 30);
  ASSERT_TRUE(other.ok());
  options.cert_pem = cert_->cert_pem;
  options.key_pem = other->key_pem;
  s = Server::Start(options, noop);
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument) << s.status().ToString();

  options.key_pem = cert_->key_pem;
  options.bind_address = "not-an-address";
  s = Server::Start(options, noop);
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);

  auto server = StartServer();
  ASSERT_TRUE(server);
  options.bind_address = "127.0.0.1";
  options.port = server->port();
  s = Server::Start(options, noop);
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
}

TEST_F(ServerTest, ClientVerifiesTheServerCertificate) {
  auto server = StartServer();
  ASSERT_TRUE(server);
  auto other = crypto::GenerateSelfSignedCertificate({"localhost"}, {"127.0.0.1"}, 30);
  ASSERT_TRUE(other.ok());
  auto client = Client::Connect("127.0.0.1", server->port(), other->cert_pem, 10);
  EXPECT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), Code::kUnavailable);
  client = Client::Connect("localhost", server->port(), cert_->cert_pem, 10);
  if (client.ok()) {  // localhost may resolve to ::1 first, where nothing listens
    EXPECT_EQ((*client)->Send("GET", "/echo/1", {}, "")->status, 200);
  }
  client = Client::Connect("127.0.0.1", server->port(), "", 10);  // no verification
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->Send("GET", "/echo/1", {}, "")->status, 200);
}

}  // namespace
}  // namespace meridian::http
