// The authorization code flow through the sign-in page, over a real directory: the page, its
// CSRF check, the redirect with code, state and iss, the code's redemption with PKCE, the SSO
// session and prompt, and the requests that must never reach a redirect.
#include "auth/authorize_endpoint.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/jwt.h"
#include "crypto/sealed.h"
#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

namespace json = boost::json;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kWeb[] = "https://app.example/callback";
constexpr char kSpa[] = "https://spa.example/";
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

std::string HeaderOf(const AuthorizeResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

// The query parameters of a redirect's Location.
std::map<std::string, std::string> Returned(const AuthorizeResponse& r) {
  std::string loc = HeaderOf(r, "Location");
  std::map<std::string, std::string> out;
  size_t q = loc.find_first_of("?#");
  if (q == std::string::npos) return out;
  std::string_view rest = std::string_view(loc).substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    size_t eq = kv.find('=');
    out[*FormUrlDecode(kv.substr(0, eq))] = *FormUrlDecode(kv.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return out;
}

class AuthorizeEndpointTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    TokenServiceOptions o;
    o.public_url = "https://login.test";
    tokens_ = std::make_unique<TokenService>(d_.get(), crypto::Kek::Generate(*random_), o);
    ASSERT_TRUE(tokens_->Start().ok());
    endpoint_ = std::make_unique<AuthorizeEndpoint>(d_.get(), tokens_.get(), std::string(32, 'k'));
    json::object adele = NewUser("adele", "Adele Vance");
    adele["passwordProfile"].as_object()["forceChangePasswordNextSignIn"] = false;
    auto user = d_->Create(*admin_, Users(), adele);
    ASSERT_TRUE(user.ok());
    user_id_ = user->object.id;
    auto app = d_->Create(*admin_, *directory::FindType("application"),
                          {{"displayName", "Contoso Web"},
                           {"web", {{"redirectUris", json::array{kWeb}}}},
                           {"spa", {{"redirectUris", json::array{kSpa}}}}});
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_id_ = std::string(app->object.data.at("appId").as_string());
    auto secret = d_->AddPassword(*admin_, app->object.id, json::object());
    ASSERT_TRUE(secret.ok()) << secret.status().ToString();
    secret_ = std::string(secret->at("secretText").as_string());
    ASSERT_TRUE(d_->Create(*admin_, *directory::FindType("servicePrincipal"), {{"appId", app_id_}}).ok());
  }
  void TearDown() override {
    endpoint_.reset();
    tokens_.reset();
    DirectoryFixture::TearDown();
  }

  AuthorizeResponse Call(Params params, bool post = false, std::string cookies = "") {
    AuthorizeRequest r;
    r.tenant = tenant_.tenant.id;
    r.post = post;
    r.params = std::move(params);
    r.cookie_header = cookies.empty() ? cookies_ : cookies;
    AuthorizeResponse out;
    endpoint_->Handle(std::move(r), [&](AuthorizeResponse a) { out = std::move(a); });
    // Keep what the browser keeps.
    for (const auto& [k, v] : out.headers) {
      if (k != "Set-Cookie") continue;
      std::string pair = v.substr(0, v.find(';'));
      std::string name = pair.substr(0, pair.find('='));
      std::string kept;
      for (std::string_view c : {std::string_view(cookies_)}) {
        size_t pos = 0;
        while (pos < c.size()) {
          size_t end = std::min(c.find("; ", pos), c.size());
          std::string_view one = c.substr(pos, end - pos);
          if (one.substr(0, one.find('=')) != name) kept += (kept.empty() ? "" : "; ") + std::string(one);
          pos = end + 2;
        }
      }
      cookies_ = kept + (kept.empty() ? "" : "; ") + pair;
    }
    return out;
  }
  Params Request(std::string redirect = kWeb, Params extra = {}) {
    Params p{{"client_id", app_id_},
             {"response_type", "code"},
             {"redirect_uri", redirect},
             {"scope", "openid profile offline_access User.Read"},
             {"state", "st-1"},
             {"nonce", "n-1"},
             {"code_challenge", AuthorizationCodes::Challenge(kVerifier)},
             {"code_challenge_method", "S256"}};
    for (auto& e : extra) {
      bool replaced = false;
      for (auto& kv : p) {
        if (kv.first == e.first) {
          kv.second = e.second;
          replaced = true;
        }
      }
      if (!replaced) p.push_back(e);
    }
    return p;
  }
  // The hidden fields of the sign-in form on `page`, with the credentials.
  static Params FormOf(const AuthorizeResponse& page, const std::string& user,
                       const std::string& password) {
    Params form;
    std::regex hidden(R"re(<input type="hidden" name="([^"]+)" value="([^"]*)">)re");
    for (std::sregex_iterator it(page.body.begin(), page.body.end(), hidden), end; it != end; ++it) {
      std::string v = (*it)[2];
      for (auto [from, to] : {std::pair{"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"},
                              {"&gt;", ">"}, {"&amp;", "&"}}) {
        for (size_t p; (p = v.find(from)) != std::string::npos;) v.replace(p, strlen(from), to);
      }
      form.emplace_back((*it)[1], v);
    }
    form.emplace_back("username", user);
    form.emplace_back("password", password);
    return form;
  }
  std::string Upn() { return "adele@" + tenant_.tenant.domains[0]; }
  // Signs in on the page and returns the redirect.
  AuthorizeResponse SignIn(Params request, const std::string& password = "Str0ng!Passw0rd") {
    AuthorizeResponse page = Call(request);
    EXPECT_EQ(page.status, 200) << page.body;
    return Call(FormOf(page, Upn(), password), true);
  }
  TokenResult Redeem(const std::string& code, const std::string& verifier = kVerifier,
                     const std::string& redirect = kWeb) {
    std::vector<std::pair<std::string, std::string>> form{{"grant_type", "authorization_code"},
                                                          {"client_id", app_id_},
                                                          {"code", code},
                                                          {"redirect_uri", redirect},
                                                          {"code_verifier", verifier}};
    if (redirect == kWeb) form.emplace_back("client_secret", secret_);
    return tokens_->Token(tenant_.tenant.id, form, std::nullopt);
  }

  std::unique_ptr<TokenService> tokens_;
  std::unique_ptr<AuthorizeEndpoint> endpoint_;
  std::string user_id_, app_id_, secret_, cookies_;
};

TEST_F(AuthorizeEndpointTest, TheCodeFlowSignsInAndTheCodeIsRedeemedOnce) {
  AuthorizeResponse page = Call(Request());
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Contoso Web"), std::string::npos);
  EXPECT_NE(page.body.find("autocomplete=\"current-password\""), std::string::npos);
  EXPECT_NE(HeaderOf(page, "Content-Security-Policy").find("form-action 'self'"), std::string::npos);

  AuthorizeResponse back = Call(FormOf(page, Upn(), "Str0ng!Passw0rd"), true);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(HeaderOf(back, "Location").rfind(std::string(kWeb) + "?", 0), 0u);
  auto got = Returned(back);
  EXPECT_EQ(got["state"], "st-1");
  EXPECT_EQ(got["iss"], tokens_->Issuer(tenant_.tenant.id));  // RFC 9207
  ASSERT_FALSE(got["code"].empty());
  EXPECT_NE(cookies_.find(AuthorizeEndpoint::SessionCookie(tenant_.tenant.id)), std::string::npos);

  auto r = Redeem(got["code"]);
  ASSERT_TRUE(std::holds_alternative<json::object>(r)) << std::get<OAuthError>(r).description;
  auto& tokens = std::get<json::object>(r);
  auto verifier = crypto::JwtVerifier::FromJwks(tokens_->Jwks());
  auto id = verifier->Verify(tokens.at("id_token").as_string());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->at("nonce"), "n-1");
  EXPECT_EQ(id->at("oid").as_string(), user_id_);
  EXPECT_EQ(verifier->Verify(tokens.at("access_token").as_string())->at("azpacr"), "1");
  EXPECT_TRUE(tokens.contains("refresh_token"));
  // The refresh token of a confidential client needs its secret.
  auto stolen = tokens_->Token(tenant_.tenant.id,
                               {{"grant_type", "refresh_token"},
                                {"client_id", app_id_},
                                {"refresh_token", std::string(tokens.at("refresh_token").as_string())}},
                               std::nullopt);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(stolen));
  EXPECT_EQ(std::get<OAuthError>(stolen).error, "invalid_client");
  // Again: refused.
  auto again = Redeem(got["code"]);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(again));
  EXPECT_EQ(std::get<OAuthError>(again).error, "invalid_grant");

  // The sign-in was logged, as interactive.
  auto log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->items.empty());
  EXPECT_EQ(log->items[0].data.at("isInteractive"), true);
  EXPECT_EQ(log->items[0].data.at("userId").as_string(), user_id_);
}

TEST_F(AuthorizeEndpointTest, PkceIsCheckedAtRedemption) {
  auto got = Returned(SignIn(Request()));
  // A code sent to a web redirect URI is a confidential client's: not redeemed without its secret.
  auto unauthenticated = tokens_->Token(tenant_.tenant.id,
                                        {{"grant_type", "authorization_code"},
                                         {"client_id", app_id_},
                                         {"code", got["code"]},
                                         {"redirect_uri", kWeb},
                                         {"code_verifier", kVerifier}},
                                        std::nullopt);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(unauthenticated));
  EXPECT_EQ(std::get<OAuthError>(unauthenticated).error, "invalid_client");
  auto r = Redeem(got["code"], "wrong-verifier-wrong-verifier-wrong-verifier-00");
  ASSERT_TRUE(std::holds_alternative<OAuthError>(r));
  EXPECT_EQ(std::get<OAuthError>(r).error, "invalid_grant");
  // A public client (the SPA's redirect URI) redeems without a secret, with its verifier.
  got = Returned(Call(Request(kSpa)));  // the SSO session from the first sign-in
  ASSERT_FALSE(got["code"].empty());
  r = Redeem(got["code"], kVerifier, kSpa);
  EXPECT_TRUE(std::holds_alternative<json::object>(r)) << std::get<OAuthError>(r).description;
}

TEST_F(AuthorizeEndpointTest, ARedirectUriThatIsNotAnExactMatchIsNeverFollowed) {
  for (std::string bad : {"https://app.example/callback/", "https://APP.example/callback",
                          "https://app.example/callback?x=1", "https://evil.example/callback",
                          "https://app.example/callback#x", ""}) {
    AuthorizeResponse r = Call(Request(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(HeaderOf(r, "Location"), "") << bad;
  }
  Params unknown = Request();
  unknown[0].second = "00000000-0000-4000-8000-000000000001";
  EXPECT_EQ(Call(unknown).status, 400);
  EXPECT_EQ(HeaderOf(Call(unknown), "Location"), "");
}

TEST_F(AuthorizeEndpointTest, BadRequestsGoBackToTheApplicationWithTheirError) {
  auto error = [&](Params extra, std::string redirect = kWeb) {
    AuthorizeResponse r = Call(Request(redirect, std::move(extra)));
    EXPECT_EQ(r.status, 302) << r.body;
    auto got = Returned(r);
    EXPECT_EQ(got["state"], "st-1");
    EXPECT_TRUE(got["code"].empty());
    return got["error"];
  };
  EXPECT_EQ(error({{"response_type", "token"}}), "unsupported_response_type");
  EXPECT_EQ(error({{"code_challenge_method", "plain"}}), "invalid_request");
  EXPECT_EQ(error({{"code_challenge", ""}, {"code_challenge_method", ""}}, kSpa), "invalid_request");
  EXPECT_EQ(error({{"scope", "https://other.example/.default"}}), "invalid_scope");
  EXPECT_EQ(error({{"prompt", "none"}}), "login_required");
  EXPECT_EQ(error({{"prompt", "consent"}}), "invalid_request");
}

TEST_F(AuthorizeEndpointTest, TheFormIsRefusedWithoutItsCsrfToken) {
  AuthorizeResponse page = Call(Request());
  Params form = FormOf(page, Upn(), "Str0ng!Passw0rd");
  Params forged = form;
  for (auto& kv : forged) {
    if (kv.first == "csrf") kv.second = std::string(43, 'A');
  }
  AuthorizeResponse r = Call(forged, true);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
  // Another browser (another form cookie) with this page's token: refused too.
  r = Call(form, true, "meridian_form=" + std::string(43, 'B'));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
  // Nothing was attempted: no sign-in was logged.
  auto log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  EXPECT_TRUE(log->items.empty());
}

TEST_F(AuthorizeEndpointTest, AWrongPasswordShowsThePageAgain) {
  AuthorizeResponse r = SignIn(Request(), "nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("incorrect"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
}

TEST_F(AuthorizeEndpointTest, TheSsoSessionSkipsThePasswordUnlessPromptAsks) {
  ASSERT_EQ(SignIn(Request()).status, 302);
  AuthorizeResponse silent = Call(Request(kWeb, {{"prompt", "none"}}));
  EXPECT_EQ(silent.status, 302);
  EXPECT_FALSE(Returned(silent)["code"].empty());
  EXPECT_EQ(Call(Request(kWeb, {{"prompt", "login"}})).status, 200);
  EXPECT_EQ(Call(Request(kWeb, {{"prompt", "select_account"}})).status, 200);
  // Another user's hint shows the page.
  EXPECT_EQ(Call(Request(kWeb, {{"login_hint", "other@" + tenant_.tenant.domains[0]}})).status, 200);
  // A disabled account's session is over.
  ASSERT_TRUE(d_->Update(*admin_, Users(), user_id_, {{"accountEnabled", false}}, std::nullopt).ok());
  EXPECT_EQ(Returned(Call(Request(kWeb, {{"prompt", "none"}})))["error"], "login_required");
}

TEST_F(AuthorizeEndpointTest, FormPostAnswersWithAFormForTheApplication) {
  AuthorizeResponse r = SignIn(Request(kWeb, {{"response_mode", "form_post"}}));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("action=\"https://app.example/callback\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"code\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"state\" value=\"st-1\""), std::string::npos);
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("form-action https://app.example;"),
            std::string::npos);
}

}  // namespace
}  // namespace meridian::auth
