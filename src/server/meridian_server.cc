#include "server/meridian_server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "auth/sign_in_pages.h"
#include "auth/token_service.h"
#include "common/cpu_gate.h"
#include "common/encoding.h"
#include "common/random.h"
#include "crypto/sha.h"
#include "crypto/tls_cert.h"
#include "directory/directory.h"
#include "graph/api.h"
#include "graph/errors.h"
#include "server/gateway.h"
#include "server/kek_config.h"
#include "server/request_scheduler.h"
#include "server/residency_report.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"

namespace meridian::server {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

Result<std::string> ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFound("cannot read " + p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The document a new tenant's owner needs to start using the API; shown once.
json::object TenantDocument(const directory::NewTenant& t, const auth::TokenService& tokens,
                            const std::string& ca_file) {
  const std::string& url = tokens.options().public_url;
  std::string authority = url + "/" + t.tenant.id;
  auto region = directory::ParseRegionCode(t.tenant.region);
  return json::object{
      {"tenantId", t.tenant.id},
      {"displayName", t.display_name},
      {"region", region.ok() ? std::string(directory::RegionDisplayName(*region)) : t.tenant.region},
      {"regionCode", t.tenant.region},
      {"partition", t.tenant.partition},
      {"initialDomain", t.tenant.domains.at(0)},
      {"authority", authority},
      {"tokenEndpoint", authority + "/oauth2/v2.0/token"},
      {"openidConfiguration", authority + "/v2.0/.well-known/openid-configuration"},
      {"graphBaseUrl", url + "/v1.0"},
      {"graphScope", tokens.options().graph_resource + "/.default"},
      {"caCertificate", ca_file},
      {"administrator",
       {{"id", t.admin_id},
        {"userPrincipalName", t.admin_upn},
        {"oneTimePassword", t.admin_password},
        {"roles", json::array{"Global Administrator"}}}},
      {"bootstrapApplication",
       {{"appId", t.app_id},
        {"objectId", t.app_object_id},
        {"servicePrincipalId", t.sp_id},
        {"clientSecret", t.client_secret},
        {"roles", json::array{"Global Administrator"}}}},
  };
}

// Parses application/x-www-form-urlencoded bodies (the token endpoint).
Result<std::vector<std::pair<std::string, std::string>>> ParseForm(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t pos = 0;
  while (pos <= body.size() && !body.empty()) {
    size_t amp = body.find('&', pos);
    std::string_view part = body.substr(pos, amp == std::string_view::npos ? amp : amp - pos);
    if (!part.empty()) {
      size_t eq = part.find('=');
      auto k = FormUrlDecode(part.substr(0, eq));
      auto v = FormUrlDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
      if (!k || !v) return InvalidArgument("malformed form body");
      out.emplace_back(std::move(*k), std::move(*v));
    }
    if (amp == std::string_view::npos) break;
    pos = amp + 1;
  }
  return out;
}

// The form of a token request: application/x-www-form-urlencoded, or invalid_request.
Result<std::vector<std::pair<std::string, std::string>>> TokenForm(const http::Request& req) {
  auto ct = req.Header("content-type");
  auto bad = [](std::string why) {
    return Status(Code::kInvalidArgument, std::move(why), "invalid_request");
  };
  if (!ct || AsciiLower(*ct).find("application/x-www-form-urlencoded") == std::string::npos) {
    return bad("The request body must be application/x-www-form-urlencoded.");
  }
  auto form = ParseForm(req.body);
  if (!form.ok()) return bad("The request body is malformed.");
  return form;
}

// The client's address without its port, for the sign-in log.
std::string ClientIp(const http::Request& req) {
  std::string_view a = req.remote_address;
  size_t colon = a.rfind(':');
  if (colon != std::string_view::npos) a = a.substr(0, colon);
  if (a.size() >= 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  return std::string(a);
}

void OAuthJson(http::Response& res, const auth::OAuthError& e, const std::string& request_id,
               Clock* clock) {
  if (e.http_status >= 500) {
    // Logged with its request id; the client sees no internal detail.
    spdlog::error("request {}: token endpoint: {}", request_id, e.description);
    res.SetJson(e.http_status,
                json::serialize(json::object{{"error", e.error},
                                             {"error_description", "An internal error occurred."},
                                             {"trace_id", request_id},
                                             {"correlation_id", request_id}}));
    return;
  }
  json::object body{{"error", e.error},
                    {"error_description", e.description},
                    {"timestamp", FormatIso8601(clock->NowMillis())},
                    {"trace_id", request_id},
                    {"correlation_id", request_id}};
  res.SetJson(e.http_status, json::serialize(body));
  if (e.http_status == 401) res.headers.emplace_back("WWW-Authenticate", "Basic realm=\"meridian\"");
}

}  // namespace

struct MeridianServer::Impl {
  ServeOptions options;
  std::string first_tenant_file;
  std::string operator_key_hash;
  std::string operator_key_file;
  std::string cert_file;
  std::unique_ptr<CpuGate> cpu_gate;  // password hashes, bounded and fair across tenants
  std::unique_ptr<directory::Directory> directory;
  std::unique_ptr<auth::TokenService> tokens;
  // Made once the deployment's secrets are loaded (its CSRF key is one); null until then.
  std::optional<crypto::Kek> page_kek;  // the KEK, for the pages' authenticator seeds
  std::unique_ptr<auth::SignInPages> pages_owned;
  std::atomic<auth::SignInPages*> pages{nullptr};
  std::unique_ptr<graph::GraphApi> graph;
  http::Metrics metrics;
  http::Router router;
  RequestScheduler scheduler;  // before http: handlers it runs hold http's connections
  std::unique_ptr<http::Server> http;
  std::unique_ptr<ClusterNode> cluster;  // cluster mode only; after what it calls into
  std::unique_ptr<Gateway> gateway;
  std::thread bootstrap;
  std::thread key_refresher;
  std::mutex stop_mu;
  std::condition_variable stop_cv;  // wakes key_refresher when stopping
  std::atomic<bool> stopping{false};
  std::atomic<bool> ready{false};

  Status Init();
  // The key-encryption key of the options (server/kek_config.h), logged with where it is.
  Result<crypto::Kek> LoadKeyEncryptionKey();
  // Runs tokens->Refresh() every key_refresh_seconds until Stop: keys other processes made are
  // loaded, and the next key is made when due.
  void StartKeyRefresher();
  Status StartCluster();
  // Makes the sign-in pages' endpoint once the deployment's secrets can be read.
  Status StartSignInPages();
  // Cluster mode: once the global partition has a primary, the deployment's secrets and signing
  // keys exist everywhere; only then does the node serve.
  void Bootstrap();
  // Runs a request: here, or (cluster mode) where the gateway sends it. `attempt` counts the
  // times a write was refused here because the primary moved, and routed again.
  void Dispatch(const http::Request& req, http::Response& res, std::function<void()> done,
                int attempt);
  // Sends a tenant's creation op to `partition`'s primary (DirectoryOptions::log_elsewhere), as a
  // request only peers can make; retries for 5 s while the partition has no primary.
  Status LogElsewhere(const std::string& partition, const proto::Op& op);
  // Runs a request a peer forwarded through the local request path.
  void ServeForwarded(const proto::ForwardRequest& f,
                      replication::Reply<proto::ForwardResponse> reply);
  void Routes();
  // Whether the request carries the operator key; answers 401 when not.
  bool IsOperator(const http::Request& req, http::Response& res);
  Result<json::object> CreateTenant(std::string_view name, std::string_view country) {
    MERIDIAN_ASSIGN_OR_RETURN(directory::NewTenant t, directory->CreateTenant(name, country));
    spdlog::info("created tenant {} in region {} (partition {})", t.tenant.id, t.tenant.region,
                 t.tenant.partition);
    return TenantDocument(t, *tokens, cert_file);
  }
};

Status MeridianServer::Impl::Init() {
  fs::path dir = options.data_dir;
  std::error_code ec;
  fs::create_directories(dir / "tls", ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);

  // Development TLS certificate, made on first start.
  cert_file = fs::absolute(dir / "tls" / "cert.pem").lexically_normal().string();
  fs::path key_file = dir / "tls" / "key.pem";
  if (!fs::exists(cert_file) || !fs::exists(key_file)) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    std::vector<std::string> names = {"localhost"};
    if (host[0] && std::string(host) != "localhost") names.emplace_back(host);
    MERIDIAN_ASSIGN_OR_RETURN(auto cert,
                              crypto::GenerateSelfSignedCertificate(names, {"127.0.0.1", "::1"}, 825));
    MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(key_file.string(), cert.key_pem));
    std::ofstream(cert_file) << cert.cert_pem;
    spdlog::info("generated a self-signed development certificate: {}", cert_file);
  }

  // The operator key authorizes `meridian tenant create` against this server; every node of a
  // cluster reads the one beside the cluster's certificates.
  fs::path op_key = options.cluster ? fs::path(options.cluster->certs_dir) / "operator.key"
                                    : dir / "operator.key";
  operator_key_file = fs::absolute(op_key).lexically_normal().string();
  if (options.cluster && !fs::exists(op_key)) {
    return Status(Code::kFailedPrecondition,
                  op_key.string() + " is missing: `meridian cluster certs` writes it");
  }
  if (!fs::exists(op_key)) {
    MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(
        op_key.string(), Base64UrlEncode(SecureRandom::Default()->Bytes(32))));
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string key, ReadFile(op_key));
  while (!key.empty() && isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  operator_key_hash = crypto::Sha256(key);

  // Requests run on the scheduler's workers; they reach the directory and the token service
  // only once `ready` is set, after both exist.
  MERIDIAN_RETURN_IF_ERROR(scheduler.Start(
      &metrics,
      [this](const http::Request& req, http::Response& res, std::function<void()> done) {
        Dispatch(req, res, std::move(done), 0);
      },
      [this](const http::Request& req) -> std::string {
        auto h = req.Header("authorization");
        if (!ready.load(std::memory_order_acquire) || !h) return "";
        auto ctx = tokens->Authenticate(*h);
        return ctx.ok() ? ctx->tenant_id() : "";
      }));
  // At most half the workers may wait on password hashes (the gate runs cores-1 at once), so
  // the other half always serves everything else; more waiting hashes get 503.
  CpuGateOptions gate;
  gate.max_waiting_total =
      static_cast<size_t>(std::max(1, scheduler.workers() / 2 - CpuGate::DefaultSlots()));
  cpu_gate = std::make_unique<CpuGate>(gate);

  directory::DirectoryOptions dopts;
  dopts.data_dir = options.data_dir;
  dopts.cloud = options.cloud;
  dopts.partitions_per_region = options.partitions_per_region;
  dopts.password_hashing = options.password_hashing;
  dopts.sync = options.sync;
  dopts.cpu_gate = cpu_gate.get();
  if (options.cluster) {
    dopts.writable_here = [this](const std::string& partition) {
      return cluster && cluster->WriteDestination(partition).local;
    };
    dopts.log_elsewhere = [this](const std::string& partition, const proto::Op& op) {
      return LogElsewhere(partition, op);
    };
    dopts.local_region = options.cluster->region;
    dopts.replicated = true;
    dopts.partitions_per_region = options.cluster->partitions_per_region;
  }
  MERIDIAN_ASSIGN_OR_RETURN(directory, directory::Directory::Open(dopts));

  http::ServerOptions hopts;
  hopts.bind_address = options.bind_address;
  hopts.port = options.port;
  hopts.threads = options.threads;
  MERIDIAN_ASSIGN_OR_RETURN(hopts.cert_pem, ReadFile(cert_file));
  MERIDIAN_ASSIGN_OR_RETURN(hopts.key_pem, ReadFile(key_file));
  hopts.metrics = &metrics;
  // The public URL names the port, so it is known only once the listener is bound; routes read
  // it at request time.
  MERIDIAN_ASSIGN_OR_RETURN(
      http, http::Server::Start(hopts, [this](const http::Request& req, http::Response& res,
                                              http::Done done) {
        scheduler.Serve(req, res, std::move(done));
      }));
  if (options.public_url.empty()) {
    options.public_url = "https://localhost:" + std::to_string(http->port());
  }
  auth::TokenServiceOptions topts;
  topts.public_url = options.public_url;
  MERIDIAN_ASSIGN_OR_RETURN(crypto::Kek kek, LoadKeyEncryptionKey());
  page_kek.emplace(kek);
  tokens = std::make_unique<auth::TokenService>(directory.get(), std::move(kek), topts);
  graph = std::make_unique<graph::GraphApi>(
      directory.get(), tokens.get(),
      [this](const Result<directory::WriteResult>& write, http::Response& res) {
        if (gateway) gateway->Observe(write, res);
      });
  Routes();
  if (options.cluster) return StartCluster();
  MERIDIAN_RETURN_IF_ERROR(tokens->Start());
  MERIDIAN_RETURN_IF_ERROR(StartSignInPages());

  // A first tenant only on a deployment that has none; a failed count stops the start-up
  // rather than create a second one, and its credentials file is never overwritten.
  MERIDIAN_ASSIGN_OR_RETURN(int64_t tenants, directory->TenantCount());
  if (tenants == 0) {
    fs::path file = fs::absolute(dir / "first-tenant.json").lexically_normal();
    if (fs::exists(file)) {
      return Internal(file.string() + " exists but the deployment has no tenant; move it away to "
                      "create a new first tenant");
    }
    MERIDIAN_ASSIGN_OR_RETURN(json::object doc,
                              CreateTenant(options.first_tenant_name, options.first_tenant_country));
    MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(file.string(), json::serialize(doc) + "\n"));
    first_tenant_file = file.string();
  }
  json::object info{{"url", options.public_url},
                    {"port", http->port()},
                    {"pid", static_cast<int64_t>(getpid())},
                    {"caCertificate", cert_file}};
  MERIDIAN_RETURN_IF_ERROR(
      crypto::WritePrivateFile((dir / "server.json").string(), json::serialize(info) + "\n"));
  metrics.AddGauge("meridian_partition_last_lsn", "Last LSN applied by each partition",
                   [this] {
                     std::vector<std::pair<std::string, double>> out;
                     for (auto& [id, lsn] : directory->PartitionLsns()) {
                       out.emplace_back("partition=\"" + id + "\"", static_cast<double>(lsn));
                     }
                     return out;
                   });
  StartKeyRefresher();
  ready.store(true, std::memory_order_release);
  return Status::Ok();
}

Status MeridianServer::Impl::StartCluster() {
  ClusterOptions co = *options.cluster;
  if (co.http_advertise.empty()) co.http_advertise = options.bind_address + ":" + std::to_string(http->port());
  MERIDIAN_ASSIGN_OR_RETURN(
      cluster, ClusterNode::Start(co, directory.get(),
                                  [this](const proto::ForwardRequest& f,
                                         replication::Reply<proto::ForwardResponse> reply) {
                                    ServeForwarded(f, std::move(reply));
                                  }));
  gateway = std::make_unique<Gateway>(cluster.get(), directory.get());
  cluster->RegisterMetrics(&metrics);
  json::object info{{"url", options.public_url},
                    {"port", http->port()},
                    {"pid", static_cast<int64_t>(getpid())},
                    {"node", co.node},
                    {"operatorKey", operator_key_file},
                    {"caCertificate", cert_file}};
  MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(
      (fs::path(options.data_dir) / "server.json").string(), json::serialize(info) + "\n"));
  bootstrap = std::thread([this] { Bootstrap(); });
  return Status::Ok();
}

Status MeridianServer::Impl::StartSignInPages() {
  if (pages.load()) return Status::Ok();
  MERIDIAN_ASSIGN_OR_RETURN(std::string csrf, directory->ServiceSecret("sign-in-forms"));
  pages_owned =
      std::make_unique<auth::SignInPages>(directory.get(), tokens.get(), *page_kek, csrf);
  pages.store(pages_owned.get());
  return Status::Ok();
}

void MeridianServer::Impl::Bootstrap() {
  int64_t next_log = 0;
  while (!stopping.load()) {
    Status s = directory->Bootstrap();
    if (s.ok()) s = tokens->Start();
    if (s.ok()) s = StartSignInPages();
    Result<std::string> key = s.ok() ? directory->ServiceSecret("replica-token-mac")
                                     : Result<std::string>(s);
    if (key.ok()) {
      cluster->SetTokenKey(*key);
      StartKeyRefresher();
      ready.store(true, std::memory_order_release);
      spdlog::info("node {} serves", options.cluster->node);
      return;
    }
    if (directory->clock()->NowMillis() >= next_log) {
      if (key.status().code() == Code::kUnavailable) {
        spdlog::info("waiting for the global partition's primary: {}", key.status().message());
      } else {  // a wrong key-encryption key, say: no primary will fix it
        spdlog::error("cannot serve: {}", key.status().ToString());
      }
      next_log = directory->clock()->NowMillis() + 5000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void MeridianServer::Impl::Dispatch(const http::Request& req, http::Response& res,
                                    std::function<void()> done, int attempt) {
  // Routes are registered after the listener is bound (the public URL names its port); until
  // then every request gets 503. `ready` orders the registration before any dispatch.
  if (!ready.load(std::memory_order_acquire)) {
    res.SetJson(503, R"({"status":"starting"})");
    return done();
  }
  if (!gateway) {
    router.Dispatch(req, res, done);
    return;
  }
  gateway->Route(req, res, attempt > 0, [this, &req, &res, done, attempt](bool here) {
    if (!here) return done();
    RequestScheduler::Step run = [this, &req, &res, attempt](std::function<void()> finish) {
      router.Dispatch(req, res, [this, &req, &res, attempt, finish] {
        // A write refused because the primary moved (or is still taking over) wrote nothing:
        // route it again, for up to a second, rather than fail it.
        if (!gateway->Finish(res) || attempt == 50) return finish();
        res.status = 200;
        res.headers.clear();
        res.body.clear();
        cluster->After(20, [this, &req, &res, attempt, finish] {
          scheduler.Resume(req, res, finish, [this, &req, &res, attempt](std::function<void()> f) {
            Dispatch(req, res, std::move(f), attempt + 1);
          });
        });
      });
    };
    // Decided at once, on the worker that runs the request; or later, after a wait, elsewhere.
    if (RequestScheduler::OnWorker()) return run(done);
    scheduler.Resume(req, res, done, std::move(run));
  });
}

Status MeridianServer::Impl::LogElsewhere(const std::string& partition, const proto::Op& op) {
  proto::ForwardRequest f;
  f.set_method("POST");
  f.set_target("/internal/v1/partitions/" + partition + "/tenantCreations");
  f.set_body(op.SerializeAsString());
  f.set_client_address("internal");
  Status last(Code::kUnavailable, "partition " + partition + " has no primary");
  for (int64_t deadline = directory->clock()->NowMillis() + 5000;
       directory->clock()->NowMillis() < deadline;
       std::this_thread::sleep_for(std::chrono::milliseconds(50))) {
    Destination d = cluster->WriteDestination(partition);
    if (d.local) return directory->LogTenantCreation(partition, op);
    if (d.unavailable) continue;
    // An operator's request: it may wait on its worker (docs/cluster.md, "Limits today").
    std::promise<Result<proto::ForwardResponse>> answer;
    cluster->ForwardTo(d.node, f, [&answer](Result<proto::ForwardResponse> r) {
      answer.set_value(std::move(r));
    });
    Result<proto::ForwardResponse> r = answer.get_future().get();
    if (r.ok() && r->status() == 201) return Status::Ok();
    if (r.ok() && r->status() != 503) {
      return Internal("node " + d.node + " refused the tenant's creation: " + r->body());
    }
    last = r.ok() ? Status(Code::kUnavailable, r->body()) : r.status();
  }
  return last;
}

void MeridianServer::Impl::ServeForwarded(const proto::ForwardRequest& f,
                                          replication::Reply<proto::ForwardResponse> reply) {
  auto req = Gateway::Unwrap(f);
  if (!req.ok()) return reply(req.status());
  // The exchange of a forwarded request: its Finish sends the response back to the peer.
  struct Exchange final : http::internal::Exchange {
    http::Request req;
    http::Response res;
    replication::Reply<proto::ForwardResponse> reply;
    std::atomic<bool> finished{false};
    void Finish() override {
      if (!finished.exchange(true)) reply(Gateway::Wrap(res));
    }
  };
  auto x = std::make_shared<Exchange>();
  x->req = std::move(*req);
  x->res.request_id = SecureRandom::Default()->Uuid();
  x->reply = std::move(reply);
  scheduler.Serve(x->req, x->res, http::Done(x));
}

void MeridianServer::Impl::Routes() {
  router.Add("GET", "/healthz", [](const http::Request&, const http::RouteParams&,
                                   http::Response& res) { res.SetJson(200, R"({"status":"ok"})"); });
  // Ready when every partition answers a read and takes writes, and the token service holds a
  // signing key.
  router.Add("GET", "/readyz",
             [this](const http::Request&, const http::RouteParams&, http::Response& res) {
               Status s = directory->CheckHealth();
               if (s.ok()) s = tokens->CheckHealth();
               if (s.ok() && cluster) s = cluster->Ready();
               if (!s.ok()) {
                 spdlog::warn("not ready: {}", s.ToString());
                 res.SetJson(503, json::serialize(json::object{{"status", "unavailable"},
                                                               {"reason", s.message()}}));
                 return;
               }
               res.SetJson(200, R"({"status":"ready"})");
             });
  router.Add("GET", "/metrics",
             [this](const http::Request&, const http::RouteParams&, http::Response& res) {
               res.status = 200;
               res.body = metrics.RenderPrometheus();
               res.headers.emplace_back("Content-Type", "text/plain; version=0.0.4");
             });
  // The token endpoint, the device authorization endpoint and the pushed authorization request
  // endpoint: a form in, JSON or an OAuth error out.
  using Endpoint = void (auth::TokenService::*)(auth::TokenRequest, auth::TokenDone) const;
  auto oauth_route = [this](Endpoint endpoint, int success_status) {
    return [this, endpoint, success_status](const http::Request& req, const http::RouteParams& p,
                                            http::Response& res, std::function<void()> done) {
      auto form = TokenForm(req);
      if (!form.ok()) {
        OAuthJson(res, auth::OAuthErrorOf(form.status()), res.request_id, directory->clock());
        return done();
      }
      auth::TokenRequest request;
      request.tenant = p.Get("tenant");
      request.form = std::move(*form);
      if (auto h = req.Header("authorization")) request.authorization = std::string(*h);
      request.client_ip = ClientIp(req);
      request.user_agent = std::string(req.Header("user-agent").value_or("")).substr(0, 512);
      request.request_id = res.request_id;
      auto answer = [this, &res, done, success_status](auth::TokenResult r) {
        if (auto* err = std::get_if<auth::OAuthError>(&r)) {
          OAuthJson(res, *err, res.request_id, directory->clock());
        } else {
          res.SetJson(success_status, json::serialize(std::get<json::object>(r)));
          res.headers.emplace_back("Cache-Control", "no-store");
          res.headers.emplace_back("Pragma", "no-cache");
        }
        done();
      };
      (tokens.get()->*endpoint)(std::move(request), std::move(answer));
    };
  };
  router.AddAsync("POST", "/{tenant}/oauth2/v2.0/token",
                  oauth_route(&auth::TokenService::Token, 200));
  router.AddAsync("POST", "/{tenant}/oauth2/v2.0/devicecode",
                  oauth_route(&auth::TokenService::DeviceAuthorization, 200));
  router.AddAsync("POST", "/{tenant}/oauth2/v2.0/par",
                  oauth_route(&auth::TokenService::PushAuthorizationRequest, 201));
  // UserInfo (OpenID Connect Core section 5.3), for a user's token: by GET or POST, the token in
  // the Authorization header (RFC 6750); refusals as RFC 6750 says.
  auto userinfo = [this](const http::Request& req, const http::RouteParams&, http::Response& res) {
    auto claims = tokens->UserInfo(req.Header("authorization").value_or(""));
    if (!claims.ok()) {
      if (claims.status().code() != Code::kUnauthenticated) {
        return OAuthJson(res, auth::OAuthErrorOf(claims.status()), res.request_id,
                         directory->clock());
      }
      res.SetJson(401, json::serialize(json::object{
                           {"error", "invalid_token"},
                           {"error_description", claims.status().message()}}));
      res.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return;
    }
    res.SetJson(200, json::serialize(*claims));
    res.headers.emplace_back("Cache-Control", "no-store");
  };
  router.Add("GET", "/oidc/userinfo", userinfo);
  router.Add("POST", "/oidc/userinfo", userinfo);
  auto discovery = [this](const http::Request& req, const http::RouteParams& p,
                          http::Response& res) {
    auto doc = tokens->Discovery(p.Get("tenant"));
    if (!doc.ok()) {
      graph::SetError(doc.status(), req, &res);
      return;
    }
    res.SetJson(200, json::serialize(*doc));
  };
  router.Add("GET", "/{tenant}/v2.0/.well-known/openid-configuration", discovery);
  router.Add("GET", "/{tenant}/.well-known/openid-configuration", discovery);
  router.Add("GET", "/{tenant}/discovery/v2.0/keys",
             [this](const http::Request& req, const http::RouteParams& p, http::Response& res) {
               auto t = directory->ResolveTenant(p.Get("tenant"));
               if (!t.ok()) {
                 graph::SetError(t.status(), req, &res);
                 return;
               }
               res.SetJson(200, json::serialize(tokens->Jwks()));
               res.headers.emplace_back("Cache-Control", "public, max-age=3600");
             });
  // The sign-in pages: a page or a redirect out.
  using Page = void (auth::SignInPages::*)(auth::PageRequest,
                                           std::function<void(auth::PageResponse)>) const;
  auto page_route = [this](Page page) {
    return [this, page](const http::Request& req, const http::RouteParams& p, http::Response& res,
                        std::function<void()> done) {
      auth::SignInPages* pages_now = pages.load();
      if (!pages_now) {
        res.SetJson(503, R"({"error":"temporarily_unavailable"})");
        return done();
      }
      auth::PageRequest r;
      r.tenant = p.Get("tenant");
      r.post = req.method == "POST";
      if (r.post) {
        auto form = TokenForm(req);
        if (!form.ok()) {
          res.SetJson(400, R"({"error":"invalid_request","error_description":"The sign-in form must be application/x-www-form-urlencoded."})");
          return done();
        }
        r.params = std::move(*form);
      } else {
        r.params = req.query;
      }
      r.cookie_header = std::string(req.Header("cookie").value_or(""));
      r.client_ip = ClientIp(req);
      r.user_agent = std::string(req.Header("user-agent").value_or("")).substr(0, 512);
      r.request_id = res.request_id;
      (pages_now->*page)(std::move(r), [&res, done](auth::PageResponse out) {
        res.status = out.status;
        res.body = std::move(out.body);
        for (auto& h : out.headers) res.headers.push_back(std::move(h));
        done();
      });
    };
  };
  for (const char* method : {"GET", "POST"}) {
    router.AddAsync(method, "/{tenant}/oauth2/v2.0/authorize",
                    page_route(&auth::SignInPages::Authorize));
    router.AddAsync(method, "/{tenant}/oauth2/v2.0/devicelogin",
                    page_route(&auth::SignInPages::DeviceLogin));
    router.AddAsync(method, "/{tenant}/oauth2/v2.0/logout", page_route(&auth::SignInPages::Logout));
  }
  router.Add("POST", "/operator/v1/tenants",
             [this](const http::Request& req, const http::RouteParams&, http::Response& res) {
               if (!IsOperator(req, res)) return;
               boost::system::error_code ec;
               json::value body = json::parse(req.body, ec);
               auto* o = body.if_object();
               auto* name = o ? o->if_contains("displayName") : nullptr;
               auto* country = o ? o->if_contains("countryLetterCode") : nullptr;
               if (ec || !name || !name->is_string() || !country || !country->is_string()) {
                 graph::SetError(InvalidArgument("The body must be {\"displayName\": string, "
                                                 "\"countryLetterCode\": string}."),
                                 req, &res);
                 return;
               }
               auto doc = CreateTenant(name->get_string(), country->get_string());
               if (!doc.ok()) {
                 graph::SetError(doc.status(), req, &res);
                 return;
               }
               res.SetJson(201, json::serialize(*doc));
               res.headers.emplace_back("Cache-Control", "no-store");
             });
  // Where every tenant's data lives: routing metadata and the cluster's configurations only, so
  // any node answers it (the gateway never forwards it).
  // A tenant's creation, sent by the node that creates it to its partition's primary (see
  // LogElsewhere). Only peers reach it: a client's request is never forwarded to it, and one sent
  // straight to it is not found.
  router.Add("POST", "/internal/v1/partitions/{partition}/tenantCreations",
             [this](const http::Request& req, const http::RouteParams& p, http::Response& res) {
               proto::Op op;
               if (!Gateway::IsForwarded(req)) {
                 graph::SetError(NotFound("No resource matches the path '" + req.path + "'."),
                                 req, &res);
                 return;
               }
               Status s = op.ParseFromString(req.body)
                              ? directory->LogTenantCreation(std::string(p.Get("partition")), op)
                              : InvalidArgument("the body is not an op");
               if (!s.ok()) return graph::SetError(s, req, &res);
               res.SetJson(201, "{}");
             });
  router.Add("GET", "/operator/v1/residency",
             [this](const http::Request& req, const http::RouteParams&, http::Response& res) {
               if (!IsOperator(req, res)) return;
               auto tenants = directory->Tenants();
               if (!tenants.ok()) {
                 graph::SetError(tenants.status(), req, &res);
                 return;
               }
               ResidencyInput in;
               in.tenants = std::move(*tenants);
               in.node = cluster ? options.cluster->node : "embedded";
               in.data_dir = fs::absolute(options.data_dir).lexically_normal().string();
               in.generated_at = FormatIso8601(directory->clock()->NowMillis());
               if (cluster) in.cluster = cluster->View();
               res.SetJson(200, json::serialize(ResidencyReport(in)));
               res.headers.emplace_back("Cache-Control", "no-store");
             });
  router.Add("POST", "/operator/v1/tenants/{tenant}/restoreAdministrator",
             [this](const http::Request& req, const http::RouteParams& p, http::Response& res) {
               if (!IsOperator(req, res)) return;
               auto r = directory->RestoreAdministrator(p.Get("tenant"));
               if (!r.ok()) {
                 graph::SetError(r.status(), req, &res);
                 return;
               }
               spdlog::warn("break-glass: administrator {} restored to tenant {}",
                            r->user_principal_name, r->tenant_id);
               res.SetJson(201, json::serialize(json::object{
                                    {"tenantId", r->tenant_id},
                                    {"id", r->user_id},
                                    {"userPrincipalName", r->user_principal_name},
                                    {"oneTimePassword", r->one_time_password},
                                    {"roles", json::array{"Global Administrator"}}}));
               res.headers.emplace_back("Cache-Control", "no-store");
             });
  router.Add("POST", "/operator/v1/partitions/{partition}/movePrimary",
             [this](const http::Request& req, const http::RouteParams& p, http::Response& res) {
               if (!IsOperator(req, res)) return;
               if (!cluster) {
                 graph::SetError(Status(Code::kFailedPrecondition,
                                        "the embedded default has no replicas to move to"),
                                 req, &res);
                 return;
               }
               boost::system::error_code ec;
               json::value body = json::parse(req.body, ec);
               auto* to = body.is_object() ? body.as_object().if_contains("to") : nullptr;
               if (ec || !to || !to->is_string()) {
                 graph::SetError(InvalidArgument("The body must be {\"to\": node id}."), req, &res);
                 return;
               }
               std::string partition(p.Get("partition")), target(to->get_string());
               auto paused = cluster->MovePrimary(partition, target, 10000);
               if (!paused.ok()) {
                 graph::SetError(paused.status(), req, &res);
                 return;
               }
               spdlog::info("partition {}: primary moved to {} ({} ms without writes here)",
                            partition, target, *paused);
               res.SetJson(200, json::serialize(json::object{{"partition", partition},
                                                             {"primary", target},
                                                             {"writesPausedMs", *paused}}));
             });
  graph->Register(&router);
}

bool MeridianServer::Impl::IsOperator(const http::Request& req, http::Response& res) {
  auto h = req.Header("authorization");
  std::string presented = h && h->size() > 7 && EqualsIgnoreCase(h->substr(0, 7), "bearer ")
                              ? std::string(h->substr(7))
                              : std::string();
  if (crypto::ConstantTimeEquals(crypto::Sha256(presented), operator_key_hash)) return true;
  graph::SetError(Unauthenticated("The operator key is missing or wrong."), req, &res);
  return false;
}

Result<crypto::Kek> MeridianServer::Impl::LoadKeyEncryptionKey() {
  KekSource source;
  source.file =
      options.kek_file.empty() && options.cluster ? options.cluster->kek_file : options.kek_file;
  source.env = options.kek_env;
  if (!options.cluster) source.default_file = (fs::path(options.data_dir) / "kek.key").string();
  auto sealed_under = [this]() -> Result<std::optional<std::string>> {
    MERIDIAN_ASSIGN_OR_RETURN(auto keys, directory->SigningKeys());
    for (const auto& k : keys) {
      if (!k.sealed_private_key().empty()) {
        return std::optional<std::string>(
            crypto::SealedKekId(k.sealed_private_key()).value_or("of an unknown format"));
      }
    }
    return std::optional<std::string>();
  };
  MERIDIAN_ASSIGN_OR_RETURN(LoadedKek loaded,
                            LoadKek(source, sealed_under, *SecureRandom::Default()));
  std::string where = loaded.origin == kKekVariable
                          ? loaded.origin
                          : fs::absolute(loaded.origin).lexically_normal().string();
  if (loaded.generated) {
    spdlog::warn(
        "generated a key-encryption key in {} (owner-only): the signing keys are sealed "
        "under it, and without it they cannot be opened. Keep a copy apart from the data "
        "directory, or give your own with --kek-file or {}",
        where, kKekVariable);
  }
  spdlog::info("key-encryption key {} from {}", loaded.kek.IdHex(), where);
  return std::move(loaded.kek);
}

void MeridianServer::Impl::StartKeyRefresher() {
  key_refresher = std::thread([this] {
    std::unique_lock lock(stop_mu);
    while (!stop_cv.wait_for(lock, std::chrono::seconds(options.key_refresh_seconds),
                             [this] { return stopping.load(); })) {
      lock.unlock();
      Status s = tokens->Refresh();
      if (!s.ok()) spdlog::warn("refreshing the token-signing keys: {}", s.ToString());
      lock.lock();
    }
  });
}

MeridianServer::MeridianServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MeridianServer::~MeridianServer() { Stop(); }

Result<std::unique_ptr<MeridianServer>> MeridianServer::Start(const ServeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  MERIDIAN_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<MeridianServer>(new MeridianServer(std::move(impl)));
}

uint16_t MeridianServer::port() const { return impl_->http->port(); }
const std::string& MeridianServer::public_url() const { return impl_->options.public_url; }
const std::string& MeridianServer::first_tenant_file() const { return impl_->first_tenant_file; }

void MeridianServer::Stop() {
  if (!impl_) return;
  {
    std::lock_guard lock(impl_->stop_mu);
    impl_->stopping.store(true);
  }
  impl_->stop_cv.notify_all();
  if (impl_->bootstrap.joinable()) impl_->bootstrap.join();
  if (impl_->key_refresher.joinable()) impl_->key_refresher.join();
  impl_->scheduler.Stop();  // first: http's Stop waits for the requests the workers hold
  if (impl_->http) impl_->http->Stop();
  impl_->gateway.reset();
  impl_->cluster.reset();
}

}  // namespace meridian::server
