// The token endpoint's grants end to end over a real directory: password (ROPC) and refresh
// tokens for users, client credentials with a certificate (private_key_jwt), and the checks that
// frame every grant (client authentication, public clients, duplicates).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/jwt.h"
#include "crypto/sealed.h"
#include "crypto/testing/jws.h"
#include "directory/first_party.h"
#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

namespace json = boost::json;
using Form = std::vector<std::pair<std::string, std::string>>;

// A claim as text, to compare with strings.
std::string S(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

class TokenEndpointTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    TokenServiceOptions o;
    o.public_url = "https://login.test";
    tokens_ = std::make_unique<TokenService>(d_.get(), crypto::Kek::Generate(*random_), o);
    ASSERT_TRUE(tokens_->Start().ok());
    json::object adele = NewUser("adele", "Adele Vance");
    adele["passwordProfile"].as_object()["forceChangePasswordNextSignIn"] = false;
    auto user = d_->Create(*admin_, Users(), adele);
    ASSERT_TRUE(user.ok()) << user.status().ToString();
    user_id_ = user->object.id;
    app_id_ = MakeApp("Console tool", {{"isFallbackPublicClient", true}});
  }
  void TearDown() override {
    tokens_.reset();
    DirectoryFixture::TearDown();
  }

  // Registers an application (with `extra` properties) and its service principal; its appId.
  std::string MakeApp(const std::string& name, json::object extra = {}) {
    extra["displayName"] = name;
    auto app = d_->Create(*admin_, *directory::FindType("application"), extra);
    EXPECT_TRUE(app.ok()) << app.status().ToString();
    if (!app.ok()) return "";
    std::string app_id(app->object.data.at("appId").as_string());
    auto sp = d_->Create(*admin_, *directory::FindType("servicePrincipal"), {{"appId", app_id}});
    EXPECT_TRUE(sp.ok()) << sp.status().ToString();
    // Adele consented to what most tests ask (the grants check consent in their own test).
    if (sp.ok() && !user_id_.empty()) Consent(sp->object.id, {"User.Read"});
    return app_id;
  }
  void Consent(const std::string& sp, std::set<std::string> scopes) {
    std::optional<Status> done;
    d_->ConsentForUser(testing::ContextForTest::TokenService(tenant_.tenant.id), user_id_, sp,
                       directory::kGraphAppId, scopes,
                       [&](Result<directory::WriteResult> w) { done = w.status(); });
    EXPECT_TRUE(done && done->ok());
  }
  std::string Upn(const std::string& alias) { return alias + "@" + tenant_.tenant.domains[0]; }

  TokenResult Token(Form form) { return tokens_->Token(tenant_.tenant.id, form, std::nullopt); }
  TokenResult Password(const std::string& app, const std::string& password,
                       const std::string& scope = "openid profile offline_access User.Read") {
    return Token({{"grant_type", "password"},
                  {"client_id", app},
                  {"username", Upn("adele")},
                  {"password", password},
                  {"scope", scope}});
  }
  static json::object Ok(const TokenResult& r) {
    EXPECT_TRUE(std::holds_alternative<json::object>(r))
        << std::get<OAuthError>(r).error << ": " << std::get<OAuthError>(r).description;
    return std::holds_alternative<json::object>(r) ? std::get<json::object>(r) : json::object{};
  }
  static OAuthError Err(const TokenResult& r) {
    EXPECT_TRUE(std::holds_alternative<OAuthError>(r)) << json::serialize(std::get<json::object>(r));
    return std::holds_alternative<OAuthError>(r) ? std::get<OAuthError>(r) : OAuthError{};
  }
  // The verified claims of a token the service signed.
  json::object Claims(const json::value& token) {
    auto verifier = crypto::JwtVerifier::FromJwks(tokens_->Jwks());
    EXPECT_TRUE(verifier.ok());
    auto claims = verifier->Verify(token.as_string());
    EXPECT_TRUE(claims.ok()) << claims.status().ToString();
    return claims.ok() ? *claims : json::object{};
  }

  std::unique_ptr<TokenService> tokens_;
  std::string user_id_, app_id_;
};

TEST_F(TokenEndpointTest, PasswordGrantIssuesAUsersTokens) {
  json::object r = Ok(Password(app_id_, "Str0ng!Passw0rd"));
  json::object access = Claims(r.at("access_token"));
  EXPECT_EQ(S(access.at("aud")), tokens_->options().graph_resource);
  EXPECT_EQ(S(access.at("oid")), user_id_);
  EXPECT_EQ(S(access.at("tid")), tenant_.tenant.id);
  EXPECT_EQ(S(access.at("azp")), app_id_);
  EXPECT_EQ(S(access.at("azpacr")), "0");  // a public client
  EXPECT_EQ(S(access.at("preferred_username")), Upn("adele"));
  EXPECT_EQ(S(access.at("name")), "Adele Vance");
  EXPECT_EQ(S(access.at("scp")), "User.Read openid profile offline_access");
  EXPECT_EQ(S(access.at("amr")), "[\"pwd\"]");
  EXPECT_FALSE(access.contains("idtyp"));
  EXPECT_FALSE(access.contains("groups"));  // the application asked for none

  json::object id = Claims(r.at("id_token"));
  EXPECT_EQ(S(id.at("aud")), app_id_);
  EXPECT_EQ(S(id.at("oid")), user_id_);
  EXPECT_EQ(S(id.at("sub")), S(access.at("sub")));
  EXPECT_NE(S(id.at("sub")), user_id_);  // pairwise, not the object id
  EXPECT_EQ(S(id.at("preferred_username")), Upn("adele"));
  EXPECT_EQ(S(id.at("iss")), tokens_->Issuer(tenant_.tenant.id));
  EXPECT_TRUE(r.at("refresh_token").is_string());

  // The Graph API takes the access token as the user's.
  auto ctx = tokens_->Authenticate("Bearer " + std::string(r.at("access_token").as_string()));
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->principal_id(), user_id_);
  EXPECT_EQ(ctx->kind(), directory::SecurityContext::Kind::kUser);

  // Without openid or offline_access: the access token alone.
  json::object bare = Ok(Password(app_id_, "Str0ng!Passw0rd", "User.Read"));
  EXPECT_FALSE(bare.contains("id_token"));
  EXPECT_FALSE(bare.contains("refresh_token"));
}

TEST_F(TokenEndpointTest, PasswordGrantNeedsAnApplicationThatAllowsIt) {
  std::string web = MakeApp("Web app");
  OAuthError e = Err(Password(web, "Str0ng!Passw0rd"));
  EXPECT_EQ(e.error, "unauthorized_client");
  // A confidential client's secret does not open it either.
  e = Err(Token({{"grant_type", "password"},
                 {"client_id", tenant_.app_id},
                 {"client_secret", tenant_.client_secret},
                 {"username", Upn("adele")},
                 {"password", "Str0ng!Passw0rd"},
                 {"scope", "openid"}}));
  EXPECT_EQ(e.error, "unauthorized_client");
}

TEST_F(TokenEndpointTest, WrongPasswordsAndUnknownUsersAnswerAlikeAndAreLogged) {
  OAuthError wrong = Err(Password(app_id_, "not it"));
  clock_.Advance(1000);
  OAuthError unknown = Err(Token({{"grant_type", "password"},
                                  {"client_id", app_id_},
                                  {"username", Upn("nobody")},
                                  {"password", "not it"},
                                  {"scope", "openid"}}));
  EXPECT_EQ(wrong.error, "invalid_grant");
  EXPECT_EQ(wrong.description, unknown.description);
  EXPECT_EQ(wrong.description.rfind("AADSTS50126", 0), 0u) << wrong.description;

  auto log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->items.size(), 2u);
  for (const auto& rec : log->items) {
    EXPECT_EQ(S(rec.data.at("appId")), app_id_);
    EXPECT_EQ(S(rec.data.at("status").at("errorCode")), "50126");
  }
  // Newest first, each with the name as it was typed.
  EXPECT_EQ(S(log->items[0].data.at("userPrincipalName")), Upn("nobody"));
  EXPECT_EQ(S(log->items[1].data.at("userPrincipalName")), Upn("adele"));

  clock_.Advance(1000);
  Ok(Password(app_id_, "Str0ng!Passw0rd"));
  log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  ASSERT_EQ(log->items.size(), 3u);
  EXPECT_EQ(S(log->items[0].data.at("status").at("errorCode")), "0");
  EXPECT_EQ(S(log->items[0].data.at("authenticationMethodsUsed")), "[\"pwd\"]");
  EXPECT_EQ(S(log->items[0].data.at("userId")), user_id_);
}

TEST_F(TokenEndpointTest, UserWhoMustChangeTheirPasswordCannotUseThePasswordGrant) {
  ASSERT_TRUE(d_->Update(*admin_, Users(), user_id_,
                         {{"passwordProfile", {{"password", "An0ther!Passw0rd"},
                                               {"forceChangePasswordNextSignIn", true}}}},
                         std::nullopt)
                  .ok());
  OAuthError e = Err(Password(app_id_, "An0ther!Passw0rd"));
  EXPECT_EQ(e.error, "invalid_grant");
  EXPECT_EQ(e.description.rfind("AADSTS50055", 0), 0u) << e.description;
}

TEST_F(TokenEndpointTest, RefreshTokensRotateAndAReuseRevokesTheFamily) {
  json::object first = Ok(Password(app_id_, "Str0ng!Passw0rd"));
  std::string rt1(first.at("refresh_token").as_string());
  auto refresh = [&](const std::string& rt) {
    return Token({{"grant_type", "refresh_token"}, {"client_id", app_id_}, {"refresh_token", rt}});
  };
  json::object second = Ok(refresh(rt1));
  std::string rt2(second.at("refresh_token").as_string());
  EXPECT_NE(rt1, rt2);
  EXPECT_EQ(S(Claims(second.at("access_token")).at("oid")), user_id_);
  EXPECT_EQ(S(Claims(second.at("id_token")).at("aud")), app_id_);
  // Another client cannot redeem it.
  EXPECT_EQ(Err(Token({{"grant_type", "refresh_token"},
                       {"client_id", tenant_.app_id},
                       {"client_secret", tenant_.client_secret},
                       {"refresh_token", rt2}}))
                .error,
            "invalid_grant");
  // The replaced token again: a leak; the whole family goes, the current token too.
  EXPECT_EQ(Err(refresh(rt1)).error, "invalid_grant");
  EXPECT_EQ(Err(refresh(rt2)).error, "invalid_grant");
}

TEST_F(TokenEndpointTest, FiftyConcurrentRefreshesOfOneTokenSucceedOnce) {
  std::string rt(Ok(Password(app_id_, "Str0ng!Passw0rd")).at("refresh_token").as_string());
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto r = Token({{"grant_type", "refresh_token"}, {"client_id", app_id_}, {"refresh_token", rt}});
      if (std::holds_alternative<json::object>(r)) {
        ++ok;
      } else if (std::get<OAuthError>(r).error == "invalid_grant") {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(refused.load(), 49);
}

TEST_F(TokenEndpointTest, ARefreshDoesNotOutliveTheAccount) {
  std::string rt(Ok(Password(app_id_, "Str0ng!Passw0rd")).at("refresh_token").as_string());
  ASSERT_TRUE(d_->Update(*admin_, Users(), user_id_, {{"accountEnabled", false}}, std::nullopt).ok());
  OAuthError e = Err(
      Token({{"grant_type", "refresh_token"}, {"client_id", app_id_}, {"refresh_token", rt}}));
  EXPECT_EQ(e.error, "invalid_grant");
}

TEST_F(TokenEndpointTest, GroupsAreClaimedWhenTheApplicationAsksForThem) {
  std::string app = MakeApp("Groups app", {{"isFallbackPublicClient", true},
                                           {"groupMembershipClaims", "SecurityGroup"}});
  std::string outer = MakeGroup("Outer"), inner = MakeGroup("Inner");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), outer, inner).ok());
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), inner, user_id_).ok());
  json::object access = Claims(Ok(Password(app, "Str0ng!Passw0rd")).at("access_token"));
  std::set<std::string> groups;
  for (const auto& g : access.at("groups").as_array()) groups.emplace(g.as_string());
  EXPECT_EQ(groups, (std::set<std::string>{outer, inner}));
}

TEST_F(TokenEndpointTest, GrantsForConfidentialClientsRefusePublicOnes) {
  OAuthError e = Err(Token({{"grant_type", "client_credentials"},
                            {"client_id", app_id_},
                            {"scope", tokens_->options().graph_resource + "/.default"}}));
  EXPECT_EQ(e.error, "invalid_client");
  EXPECT_EQ(e.http_status, 401);
}

TEST_F(TokenEndpointTest, RequestsAreRefusedBeforeAnyGrantRuns) {
  EXPECT_EQ(Err(Token({{"grant_type", "password"}, {"grant_type", "password"}})).error,
            "invalid_request");
  EXPECT_EQ(Err(Token({{"client_id", app_id_}})).error, "invalid_request");
  EXPECT_EQ(Err(Token({{"grant_type", "implicit"}, {"client_id", app_id_}})).error,
            "unsupported_grant_type");
  EXPECT_EQ(Err(Password(app_id_, "Str0ng!Passw0rd", "https://other.example/.default")).error,
            "invalid_scope");
  EXPECT_EQ(Err(Password(app_id_, "Str0ng!Passw0rd", "User.Read Made.Up")).error, "invalid_scope");
  // Nothing of these reached the sign-in log, or a lockout count.
  auto log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(log->items.empty());
}

TEST_F(TokenEndpointTest, DiscoveryNamesTheRegisteredGrants) {
  auto doc = tokens_->Discovery(tenant_.tenant.id);
  ASSERT_TRUE(doc.ok());
  std::set<std::string> grants;
  for (const auto& g : doc->at("grant_types_supported").as_array()) grants.emplace(g.as_string());
  for (const std::string& g : grants) {
    // Each named grant is served: a request for it reaches the grant, not unsupported_grant_type.
    auto r = Token({{"grant_type", g}, {"client_id", app_id_}});
    if (auto* e = std::get_if<OAuthError>(&r)) {
      EXPECT_NE(e->error, "unsupported_grant_type") << g;
    }
  }
  EXPECT_TRUE(grants.count("password"));
  EXPECT_TRUE(grants.count("refresh_token"));
  EXPECT_TRUE(grants.count("client_credentials"));
}

TEST_F(TokenEndpointTest, WorkloadsSignInWithACertificateAndAnAssertionWorksOnce) {
  auto cert = crypto::testing::RsaCertificate();
  std::string app = MakeApp("Workload");
  auto found = d_->Lookup(*admin_, *directory::FindType("application"), app);
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(d_->Update(*admin_, *directory::FindType("application"), found->id,
                         {{"keyCredentials", json::array{json::object{
                                                 {"type", "AsymmetricX509Cert"},
                                                 {"usage", "Verify"},
                                                 {"key", Base64Encode(cert.der)}}}}},
                         std::nullopt)
                  .ok());
  std::string audience = "https://login.test/" + tenant_.tenant.id + "/oauth2/v2.0/token";
  int64_t now = clock_.NowSeconds();
  auto assertion = [&](json::object changes, std::string_view alg = "PS256") {
    json::object claims{{"iss", app},          {"sub", app},
                        {"aud", audience},     {"jti", random_->Uuid()},
                        {"nbf", now},          {"exp", now + 600}};
    for (auto& kv : changes) claims[kv.key()] = kv.value();
    json::object header{{"alg", alg},
                        {"typ", "JWT"},
                        {"x5t#S256", crypto::testing::Thumbprint(cert.der, EVP_sha256())}};
    return crypto::testing::SignJws(header, claims, cert.key, alg);
  };
  auto with = [&](const std::string& jwt) {
    return Token({{"grant_type", "client_credentials"},
                  {"client_id", app},
                  {"client_assertion_type",
                   "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                  {"client_assertion", jwt},
                  {"scope", tokens_->options().graph_resource + "/.default"}});
  };
  std::string good = assertion({});
  json::object access = Claims(Ok(with(good)).at("access_token"));
  EXPECT_EQ(S(access.at("azp")), app);
  EXPECT_EQ(S(access.at("azpacr")), "2");  // a certificate
  EXPECT_EQ(S(access.at("idtyp")), "app");
  // RS256 and the request's own spelling of the tenant work too.
  Ok(with(assertion({{"aud", "https://login.test/" + tenant_.tenant.id + "/oauth2/v2.0/token"}},
                    "RS256")));

  auto refused = [&](const std::string& jwt, std::string_view why) {
    OAuthError e = Err(with(jwt));
    EXPECT_EQ(e.error, "invalid_client") << why << ": " << e.description;
  };
  refused(good, "a replay");
  refused(assertion({{"aud", "https://elsewhere.test/token"}}), "another audience");
  refused(assertion({{"nbf", now - 7200}, {"exp", now - 3600}}), "expired");
  refused(assertion({{"exp", now + 7200}}), "valid for two hours");
  refused(assertion({{"jti", ""}}), "no jti");
  refused(assertion({{"iss", tenant_.app_id}}), "iss is not the client");
  // The certificate of one application does not sign in another.
  OAuthError e = Err(Token({{"grant_type", "client_credentials"},
                            {"client_id", tenant_.app_id},
                            {"client_assertion_type",
                             "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                            {"client_assertion", assertion({{"iss", tenant_.app_id},
                                                            {"sub", tenant_.app_id}})},
                            {"scope", tokens_->options().graph_resource + "/.default"}}));
  EXPECT_EQ(e.error, "invalid_client");
  // A secret beside an assertion: two methods.
  EXPECT_EQ(Err(Token({{"grant_type", "client_credentials"},
                       {"client_id", app},
                       {"client_secret", "x"},
                       {"client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
                       {"client_assertion", assertion({})},
                       {"scope", tokens_->options().graph_resource + "/.default"}}))
                .error,
            "invalid_request");
}

// A user's token carries only permissions the user (or an administrator) consented to: the
// grants without pages refuse the rest with AADSTS65001; .default is what was granted.
TEST_F(TokenEndpointTest, UserTokensCarryOnlyConsentedPermissions) {
  OAuthError e = Err(Password(app_id_, "Str0ng!Passw0rd", "openid User.Read User.ReadWrite"));
  EXPECT_EQ(e.error, "invalid_grant");
  EXPECT_NE(e.description.find("AADSTS65001"), std::string::npos) << e.description;
  EXPECT_NE(e.description.find("User.ReadWrite"), std::string::npos);
  auto sp = d_->Lookup(*admin_, *directory::FindType("servicePrincipal"), app_id_);
  ASSERT_TRUE(sp.ok()) << sp.status().ToString();
  Consent(sp->id, {"User.ReadWrite", "Group.Read.All"});
  json::object asked = Claims(Ok(Password(app_id_, "Str0ng!Passw0rd",
                                          "openid User.Read User.ReadWrite")).at("access_token"));
  EXPECT_EQ(asked.at("scp"), "User.Read User.ReadWrite openid");
  json::object all = Claims(Ok(Password(app_id_, "Str0ng!Passw0rd",
                                        tokens_->options().graph_resource + "/.default"))
                                .at("access_token"));
  EXPECT_EQ(all.at("scp"), "Group.Read.All User.Read User.ReadWrite");
}

// A sign-in of one factor does not serve a user who must give two: neither the password grant
// nor a refresh token issued before MFA was turned on.
TEST_F(TokenEndpointTest, OneFactorGrantsStopWhenMfaIsRequired) {
  std::string refresh(Ok(Password(app_id_, "Str0ng!Passw0rd")).at("refresh_token").as_string());
  std::optional<Status> set;
  d_->SetMfaRequirement(*admin_, user_id_, "enabled",
                        [&](Result<directory::WriteResult> w) { set = w.status(); });
  ASSERT_TRUE(set && set->ok());
  OAuthError e = Err(Password(app_id_, "Str0ng!Passw0rd"));
  EXPECT_EQ(e.error, "invalid_grant");
  EXPECT_NE(e.description.find("AADSTS50076"), std::string::npos) << e.description;
  e = Err(Token(
      {{"grant_type", "refresh_token"}, {"client_id", app_id_}, {"refresh_token", refresh}}));
  EXPECT_NE(e.description.find("AADSTS50076"), std::string::npos) << e.description;
}

// UserInfo answers for a user's token issued with openid, as its ID token's subject; not for an
// application's token, nor a user's without openid.
TEST_F(TokenEndpointTest, UserInfoAnswersForAUsersTokenWithOpenId) {
  json::object with = Ok(Password(app_id_, "Str0ng!Passw0rd", "openid profile User.Read"));
  auto info = tokens_->UserInfo("Bearer " + std::string(with.at("access_token").as_string()));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->at("sub"), Claims(with.at("id_token")).at("sub"));
  EXPECT_EQ(info->at("preferred_username").as_string(), Upn("adele"));
  json::object without = Ok(Password(app_id_, "Str0ng!Passw0rd", "User.Read"));
  auto refused = tokens_->UserInfo("Bearer " + std::string(without.at("access_token").as_string()));
  EXPECT_EQ(refused.status().graph_code(), "invalid_token");
  auto app = tokens_->UserInfo(
      "Bearer " + std::string(Ok(Token({{"grant_type", "client_credentials"},
                                          {"client_id", tenant_.app_id},
                                          {"client_secret", tenant_.client_secret},
                                          {"scope", tokens_->options().graph_resource +
                                                        "/.default"}}))
                                  .at("access_token")
                                  .as_string()));
  EXPECT_EQ(app.status().graph_code(), "invalid_token");
  // A logout's id_token_hint: this tenant's, not another's.
  std::string id_token(with.at("id_token").as_string());
  EXPECT_TRUE(tokens_->IdTokenHint(tenant_.tenant.id, id_token).ok());
  auto other = d_->CreateTenant("Fabrikam", "FR");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(tokens_->IdTokenHint(other->tenant.id, id_token).ok());
}

}  // namespace
}  // namespace meridian::auth
