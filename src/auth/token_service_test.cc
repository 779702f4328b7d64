#include "auth/token_service.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/encoding.h"

namespace meridian::auth {
namespace {
namespace json = boost::json;

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-auth-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    directory::DirectoryOptions o;
    o.data_dir = dir_;
    o.clock = &clock_;
    o.password_iterations = 1000;
    o.sync = false;
    directory_ = std::move(directory::Directory::Open(o)).value();
    tenant_ = std::move(directory_->CreateTenant("Contoso", "US")).value();
    TokenServiceOptions t;
    t.public_url = "https://localhost:8443";
    tokens_ = std::make_unique<TokenService>(directory_.get(), t);
    ASSERT_TRUE(tokens_->Start().ok());
  }
  void TearDown() override {
    tokens_.reset();
    directory_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::vector<std::pair<std::string, std::string>> Form(const directory::NewTenant& t) {
    return {{"grant_type", "client_credentials"},
            {"client_id", t.app_id},
            {"client_secret", t.client_secret},
            {"scope", tokens_->options().graph_resource + "/.default"}};
  }
  std::string Issue(const directory::NewTenant& t) {
    auto r = tokens_->Token(t.tenant.id, Form(t), std::nullopt);
    EXPECT_TRUE(std::holds_alternative<json::object>(r));
    return std::string(std::get<json::object>(r).at("access_token").as_string());
  }

  std::string dir_;
  ManualClock clock_;
  std::unique_ptr<directory::Directory> directory_;
  directory::NewTenant tenant_;
  std::unique_ptr<TokenService> tokens_;
};

TEST_F(TokenServiceTest, IssuesTokensThatAuthenticateUntilTheyExpire) {
  std::string token = Issue(tenant_);
  auto ctx = tokens_->Authenticate("Bearer " + token);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->tenant_id(), tenant_.tenant.id);
  EXPECT_EQ(ctx->principal_id(), tenant_.sp_id);
  // Twice: the second answer comes from the verified-token cache and must agree.
  EXPECT_TRUE(tokens_->Authenticate("Bearer " + token).ok());
  clock_.Advance((3600 + 301) * 1000LL);
  EXPECT_EQ(tokens_->Authenticate("Bearer " + token).status().code(), Code::kUnauthenticated)
      << "an expired token must fail even when it was verified before";
}

TEST_F(TokenServiceTest, RefusesBadClientsAndScopes) {
  auto form = Form(tenant_);
  form[2].second += "x";
  auto r = tokens_->Token(tenant_.tenant.id, form, std::nullopt);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(r));
  EXPECT_EQ(std::get<OAuthError>(r).error, "invalid_client");
  form = Form(tenant_);
  form[3].second = "https://graph.microsoft.com/.default";
  EXPECT_EQ(std::get<OAuthError>(tokens_->Token(tenant_.tenant.id, form, std::nullopt)).error,
            "invalid_scope");
  form = Form(tenant_);
  form.emplace_back("client_secret", "second");
  EXPECT_EQ(std::get<OAuthError>(tokens_->Token(tenant_.tenant.id, form, std::nullopt)).error,
            "invalid_request");
  // The client exists only in its own tenant.
  auto other = std::move(directory_->CreateTenant("Fabrikam", "FR")).value();
  auto cross = tokens_->Token(other.tenant.id, Form(tenant_), std::nullopt);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(cross));
  // client_secret_basic works and must not be combined with client_secret_post.
  form = Form(tenant_);
  form.erase(form.begin() + 1, form.begin() + 3);
  std::string basic = "Basic " + Base64Encode(tenant_.app_id + ":" + tenant_.client_secret);
  EXPECT_TRUE(std::holds_alternative<json::object>(
      tokens_->Token(tenant_.tenant.id, form, std::string_view(basic))));
  EXPECT_TRUE(std::holds_alternative<OAuthError>(
      tokens_->Token(tenant_.tenant.id, Form(tenant_), std::string_view(basic))));
}

TEST_F(TokenServiceTest, RejectsTokensForOtherAudiencesIssuersAndKeys) {
  std::string token = Issue(tenant_);
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  auto claims = json::parse(*Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1))).as_object();
  auto resign = [&](json::object c) {
    auto key = crypto::SigningKey::GenerateRsa2048();
    return "Bearer " + *crypto::SignJwt(*key, c);
  };
  EXPECT_FALSE(tokens_->Authenticate(resign(claims)).ok()) << "signed by a key we never issued";
  std::string body = Base64UrlEncode(json::serialize([&] {
    auto c = claims;
    c["tid"] = "00000000-0000-4000-8000-000000000000";
    return c;
  }()));
  EXPECT_FALSE(
      tokens_->Authenticate("Bearer " + token.substr(0, d1 + 1) + body + token.substr(d2)).ok());
  EXPECT_FALSE(tokens_->Authenticate("Basic abc").ok());
  EXPECT_FALSE(tokens_->Authenticate("Bearer ").ok());
}

TEST_F(TokenServiceTest, DiscoveryNamesTheTenantsIssuerAndKeys) {
  auto d = tokens_->Discovery(tenant_.tenant.domains[0]);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->at("issuer").as_string(), tokens_->Issuer(tenant_.tenant.id));
  auto jwks = tokens_->Jwks();
  EXPECT_EQ(jwks.at("keys").as_array().size(), 1u);
  EXPECT_FALSE(tokens_->Discovery("nope.example").ok());
}

}  // namespace
}  // namespace meridian::auth
