// The Graph API's gate and error mapping against fakes of the directory: who gets past the gate,
// what reaches the directory, and what the client sees when the directory refuses or fails.
#include "graph/api.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <atomic>
#include <thread>

#include "directory/testing/fakes.h"
#include "http/router.h"

namespace meridian::graph {
namespace {
namespace json = boost::json;

constexpr char kTenant[] = "11111111-1111-4111-8111-111111111111";
constexpr char kSp[] = "22222222-2222-4222-8222-222222222222";
constexpr char kAppId[] = "33333333-3333-4333-8333-333333333333";
constexpr char kUser[] = "44444444-4444-4444-8444-444444444444";

class GraphApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    random_ = NewSeededRandom(7);
    clients_ = std::make_unique<testing::FakeClientDirectory>(&clock_, random_.get());
    clients_->AddTenant({kTenant, "na", "na-1", {"contoso.meridian.test"}});
    directory::Client client;
    client.application.id = "app-object";
    client.application.data = {{"appId", kAppId}};
    client.service_principal.id = kSp;
    clients_->AddClient({kTenant, kAppId, "s3cret", client});
    auth::TokenServiceOptions topts;
    topts.public_url = "https://localhost:8443";
    tokens_ = std::make_unique<auth::TokenService>(clients_.get(), crypto::Kek::Generate(*random_),
                                                   topts);
    ASSERT_TRUE(tokens_->Start().ok());
    auto r = tokens_->Token(kTenant,
                            {{"grant_type", "client_credentials"},
                             {"client_id", kAppId},
                             {"client_secret", "s3cret"},
                             {"scope", topts.graph_resource + "/.default"}},
                            std::nullopt);
    ASSERT_TRUE(std::holds_alternative<json::object>(r));
    token_ = std::string(std::get<json::object>(r).at("access_token").as_string());

    directory::Object sp{"servicePrincipal", kSp, 1, {{"id", kSp}, {"accountEnabled", true}}, {}};
    directory_.Put(sp);
    directory::Object user{"user", kUser, 2, {{"id", kUser}, {"displayName", "Adele"}}, {}};
    directory_.Put(user);
    api_ = std::make_unique<GraphApi>(&directory_, tokens_.get());
    api_->Register(&router_);
  }

  http::Response Send(const std::string& method, const std::string& target,
                      std::optional<std::string> token) {
    http::Request req;
    req.method = method;
    EXPECT_TRUE(http::ParseTarget(target, &req).ok());
    if (token) req.headers.emplace_back("Authorization", "Bearer " + *token);
    http::Response res;
    res.request_id = "req-42";
    router_.Dispatch(req, res);
    return res;
  }
  static std::string ErrorCode(const http::Response& res) {
    return std::string(json::parse(res.body).at("error").at("code").as_string());
  }

  ManualClock clock_;
  std::unique_ptr<Random> random_;
  std::unique_ptr<testing::FakeClientDirectory> clients_;
  std::unique_ptr<auth::TokenService> tokens_;
  std::string token_;
  testing::FakeTenantDirectory directory_;
  std::unique_ptr<GraphApi> api_;
  http::Router router_;
};

TEST_F(GraphApiTest, AValidTokenReachesTheDirectoryAsItsTenantWithTheRequestId) {
  http::Response res = Send("GET", std::string("/v1.0/users/") + kUser, token_);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(json::parse(res.body).at("displayName").as_string(), "Adele");
  ASSERT_FALSE(directory_.calls.empty());
  for (const auto& ctx : directory_.calls) {
    EXPECT_EQ(ctx.tenant_id(), kTenant);
    EXPECT_EQ(ctx.principal_id(), kSp);
    EXPECT_EQ(ctx.correlation_id(), "req-42");
  }
}

TEST_F(GraphApiTest, TheGateRefusesMissingTokens) {
  http::Response res = Send("GET", "/v1.0/users", std::nullopt);
  EXPECT_EQ(res.status, 401);
  EXPECT_EQ(ErrorCode(res), "InvalidAuthenticationToken");
  EXPECT_TRUE(directory_.calls.empty());
}

TEST_F(GraphApiTest, TheGateRefusesADeletedPrincipal) {
  directory_.Remove("servicePrincipal", kSp);
  http::Response res = Send("GET", std::string("/v1.0/users/") + kUser, token_);
  EXPECT_EQ(res.status, 401) << res.body;
  EXPECT_EQ(ErrorCode(res), "InvalidAuthenticationToken");
}

TEST_F(GraphApiTest, TheGateRefusesADisabledPrincipal) {
  directory::Object sp{"servicePrincipal", kSp, 3, {{"id", kSp}, {"accountEnabled", false}}, {}};
  directory_.Put(sp);
  http::Response res = Send("GET", std::string("/v1.0/users/") + kUser, token_);
  EXPECT_EQ(res.status, 401) << res.body;
  EXPECT_EQ(ErrorCode(res), "InvalidAuthenticationToken");
}

TEST_F(GraphApiTest, AReadTheDirectoryRefusesReadsNoObject) {
  directory_.read_decision =
      Status(Code::kPermissionDenied, "no role", "Authorization_RequestDenied");
  int before = directory_.reads;  // the gate's own read of the principal
  for (const std::string& path :
       std::vector<std::string>{"/v1.0/users", std::string("/v1.0/users/") + kUser,
                                "/v1.0/organization", "/v1.0/auditLogs/directoryAudits"}) {
    http::Response res = Send("GET", path, token_);
    EXPECT_EQ(res.status, 403) << path << " " << res.body;
    EXPECT_EQ(ErrorCode(res), "Authorization_RequestDenied") << path;
  }
  EXPECT_EQ(directory_.reads - before, 4) << "only the gate's principal checks, one per request";
}

TEST_F(GraphApiTest, InternalErrorsAre500WithoutTheirDetails) {
  http::Response ok = Send("GET", std::string("/v1.0/users/") + kUser, token_);
  ASSERT_EQ(ok.status, 200);
  directory_.failure = Internal("disk on fire at /var/lib/meridian/secret-path");
  http::Response res = Send("GET", std::string("/v1.0/users/") + kUser, token_);
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(ErrorCode(res), "InternalServerError");
  EXPECT_EQ(res.body.find("secret-path"), std::string::npos);
  EXPECT_NE(res.body.find("req-42"), std::string::npos) << "the request id is in the error";
}

TEST_F(GraphApiTest, AWriteFinishesWhenTheDirectoryAnswersFromAnotherThread) {
  std::vector<Result<directory::WriteResult>> observed;
  api_ = std::make_unique<GraphApi>(
      &directory_, tokens_.get(),
      [&](const Result<directory::WriteResult>& w, http::Response&) { observed.push_back(w); });
  http::Router router;
  api_->Register(&router);
  directory_.hold_writes = true;
  // The requests and responses live until their writes finish.
  http::Request requests[2];
  auto post = [&](http::Request& req, http::Response& res, std::atomic<bool>& finished) {
    req.method = "POST";
    EXPECT_TRUE(http::ParseTarget("/v1.0/groups", &req).ok());
    req.headers.emplace_back("Authorization", "Bearer " + token_);
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = R"({"displayName":"G","mailEnabled":false,"mailNickname":"g","securityEnabled":true})";
    res.request_id = "req-43";
    router.Dispatch(req, res, [&finished] { finished = true; });
  };
  http::Response committed, refused;
  std::atomic<bool> committed_done{false}, refused_done{false};
  post(requests[0], committed, committed_done);
  post(requests[1], refused, refused_done);
  ASSERT_EQ(directory_.held_writes.size(), 2u);
  EXPECT_FALSE(committed_done);
  EXPECT_FALSE(refused_done);
  EXPECT_TRUE(observed.empty());

  std::thread([&] {
    directory::WriteResult w;
    w.object = {"group", "55555555-5555-4555-8555-555555555555", 9, {{"displayName", "G"}}, {}};
    w.partition = "na-1";
    w.lsn = 9;
    w.epoch = 3;
    directory_.held_writes[0](w);
    directory_.held_writes[1](Status(Code::kUnavailable, "not the primary", "NotPrimary"));
  }).join();
  ASSERT_TRUE(committed_done);
  EXPECT_EQ(committed.status, 201) << committed.body;
  EXPECT_EQ(json::parse(committed.body).at("displayName").as_string(), "G");
  ASSERT_TRUE(refused_done);
  EXPECT_EQ(refused.status, 503);
  ASSERT_EQ(observed.size(), 2u);
  ASSERT_TRUE(observed[0].ok());
  EXPECT_EQ(observed[0]->partition, "na-1");
  EXPECT_EQ(observed[0]->epoch, 3u);
  EXPECT_EQ(observed[1].status().graph_code(), "NotPrimary");
}

}  // namespace
}  // namespace meridian::graph
