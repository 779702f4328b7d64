// The sign-in pages over a real directory. The authorization code flow: the page, its CSRF check,
// the redirect with code, state and iss, the code's redemption with PKCE, the SSO session and
// prompt, and the requests that must never reach a redirect. The device flow's verification page,
// with the device's polls. A password that must change, changed on the page.
#include "auth/sign_in_pages.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/jwt.h"
#include "crypto/sealed.h"
#include "crypto/totp.h"
#include "directory/first_party.h"
#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

namespace json = boost::json;
using Params = std::vector<std::pair<std::string, std::string>>;

constexpr char kWeb[] = "https://app.example/callback";
constexpr char kSpa[] = "https://spa.example/";
constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

std::string HeaderOf(const PageResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

// The query parameters of a redirect's Location.
std::map<std::string, std::string> Returned(const PageResponse& r) {
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

class SignInPagesTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    TokenServiceOptions o;
    o.public_url = "https://login.test";
    kek_ = crypto::Kek::Generate(*random_);
    tokens_ = std::make_unique<TokenService>(d_.get(), *kek_, o);
    ASSERT_TRUE(tokens_->Start().ok());
    endpoint_ = std::make_unique<SignInPages>(d_.get(), tokens_.get(), *kek_,
                                              std::string(32, 'k'));
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
    auto sp = d_->Create(*admin_, *directory::FindType("servicePrincipal"), {{"appId", app_id_}});
    ASSERT_TRUE(sp.ok());
    sp_id_ = sp->object.id;
    // Adele consented to what most tests ask (consent has its own test).
    std::optional<Status> consented;
    d_->ConsentForUser(testing::ContextForTest::TokenService(tenant_.tenant.id), user_id_, sp_id_,
                       directory::kGraphAppId, {"User.Read"},
                       [&](Result<directory::WriteResult> w) { consented = w.status(); });
    ASSERT_TRUE(consented && consented->ok()) << consented->ToString();
  }
  void TearDown() override {
    endpoint_.reset();
    tokens_.reset();
    DirectoryFixture::TearDown();
  }

  using PageFn = void (SignInPages::*)(PageRequest, std::function<void(PageResponse)>) const;
  PageResponse Call(Params params, bool post = false, std::string cookies = "",
                    PageFn page = &SignInPages::Authorize) {
    PageRequest r;
    r.tenant = tenant_.tenant.id;
    r.post = post;
    r.params = std::move(params);
    r.cookie_header = cookies.empty() ? cookies_ : cookies;
    PageResponse out;
    (endpoint_.get()->*page)(std::move(r), [&](PageResponse a) { out = std::move(a); });
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
  static Params FormOf(const PageResponse& page, const std::string& user,
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
  PageResponse SignIn(Params request, const std::string& password = "Str0ng!Passw0rd") {
    PageResponse page = Call(request);
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

  std::optional<crypto::Kek> kek_;
  std::unique_ptr<TokenService> tokens_;
  std::unique_ptr<SignInPages> endpoint_;
  std::string user_id_, app_id_, sp_id_, secret_, cookies_;
};

TEST_F(SignInPagesTest, TheCodeFlowSignsInAndTheCodeIsRedeemedOnce) {
  PageResponse page = Call(Request());
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Contoso Web"), std::string::npos);
  EXPECT_NE(page.body.find("autocomplete=\"current-password\""), std::string::npos);
  // The form's post is answered by a redirect to the application, which browsers hold to the
  // page's form-action: its origin is allowed beside the page's own.
  EXPECT_NE(HeaderOf(page, "Content-Security-Policy").find("form-action 'self' https://app.example;"),
            std::string::npos)
      << HeaderOf(page, "Content-Security-Policy");

  PageResponse back = Call(FormOf(page, Upn(), "Str0ng!Passw0rd"), true);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(HeaderOf(back, "Location").rfind(std::string(kWeb) + "?", 0), 0u);
  auto got = Returned(back);
  EXPECT_EQ(got["state"], "st-1");
  EXPECT_EQ(got["iss"], tokens_->Issuer(tenant_.tenant.id));  // RFC 9207
  ASSERT_FALSE(got["code"].empty());
  EXPECT_NE(cookies_.find(SignInPages::SessionCookie(tenant_.tenant.id)), std::string::npos);

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

TEST_F(SignInPagesTest, PkceIsCheckedAtRedemption) {
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

TEST_F(SignInPagesTest, ARedirectUriThatIsNotAnExactMatchIsNeverFollowed) {
  for (std::string bad : {"https://app.example/callback/", "https://APP.example/callback",
                          "https://app.example/callback?x=1", "https://evil.example/callback",
                          "https://app.example/callback#x", ""}) {
    PageResponse r = Call(Request(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(HeaderOf(r, "Location"), "") << bad;
  }
  Params unknown = Request();
  unknown[0].second = "00000000-0000-4000-8000-000000000001";
  EXPECT_EQ(Call(unknown).status, 400);
  EXPECT_EQ(HeaderOf(Call(unknown), "Location"), "");
}

TEST_F(SignInPagesTest, BadRequestsGoBackToTheApplicationWithTheirError) {
  auto error = [&](Params extra, std::string redirect = kWeb) {
    PageResponse r = Call(Request(redirect, std::move(extra)));
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
  EXPECT_EQ(error({{"prompt", "create"}}), "invalid_request");
}

TEST_F(SignInPagesTest, TheFormIsRefusedWithoutItsCsrfToken) {
  PageResponse page = Call(Request());
  Params form = FormOf(page, Upn(), "Str0ng!Passw0rd");
  Params forged = form;
  for (auto& kv : forged) {
    if (kv.first == "csrf") kv.second = std::string(43, 'A');
  }
  PageResponse r = Call(forged, true);
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

TEST_F(SignInPagesTest, AWrongPasswordShowsThePageAgain) {
  PageResponse r = SignIn(Request(), "nope");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("incorrect"), std::string::npos);
  EXPECT_EQ(HeaderOf(r, "Location"), "");
}

TEST_F(SignInPagesTest, TheSsoSessionSkipsThePasswordUnlessPromptAsks) {
  ASSERT_EQ(SignIn(Request()).status, 302);
  PageResponse silent = Call(Request(kWeb, {{"prompt", "none"}}));
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

TEST_F(SignInPagesTest, FormPostAnswersWithAFormForTheApplication) {
  PageResponse r = SignIn(Request(kWeb, {{"response_mode", "form_post"}}));
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("action=\"https://app.example/callback\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"code\""), std::string::npos);
  EXPECT_NE(r.body.find("name=\"state\" value=\"st-1\""), std::string::npos);
  EXPECT_NE(HeaderOf(r, "Content-Security-Policy").find("form-action https://app.example;"),
            std::string::npos);
}

// A device (a public client) starts the flow at the device authorization endpoint, polls, and the
// user answers on the verification page.
class DeviceLoginTest : public SignInPagesTest {
 protected:
  void SetUp() override {
    SignInPagesTest::SetUp();
    auto app = d_->Create(*admin_, *directory::FindType("application"),
                          {{"displayName", "Conference Room TV"}, {"isFallbackPublicClient", true}});
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    tv_ = std::string(app->object.data.at("appId").as_string());
    ASSERT_TRUE(
        d_->Create(*admin_, *directory::FindType("servicePrincipal"), {{"appId", tv_}}).ok());
  }
  json::object Start(const std::string& client) {
    TokenRequest r;
    r.tenant = tenant_.tenant.id;
    r.form = {{"client_id", client}, {"scope", "openid offline_access User.Read"}};
    TokenResult out;
    tokens_->DeviceAuthorization(std::move(r), [&](TokenResult t) { out = std::move(t); });
    if (auto* err = std::get_if<OAuthError>(&out)) {
      ADD_FAILURE() << err->error << ": " << err->description;
      return {};
    }
    return std::get<json::object>(out);
  }
  TokenResult Poll(const json::object& started) {
    clock_.Advance(5000);  // the interval (ms)
    return tokens_->Token(tenant_.tenant.id,
                          {{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                           {"client_id", tv_},
                           {"device_code", std::string(started.at("device_code").as_string())}},
                          std::nullopt);
  }
  static std::string Error(const TokenResult& r) {
    auto* e = std::get_if<OAuthError>(&r);
    return e ? e->error : "";
  }
  PageResponse Page(Params params, bool post = true) {
    return Call(std::move(params), post, "", &SignInPages::DeviceLogin);
  }
  // The page's hidden fields and `extra`.
  static Params Form(const PageResponse& page, Params extra) {
    Params form = FormOf(page, "", "");
    form.resize(form.size() - 2);  // no credentials
    for (auto& e : extra) form.push_back(e);
    return form;
  }
  std::string tv_;
};

TEST_F(DeviceLoginTest, TheUserSignsInOnThePageAndTheDeviceGetsItsTokensOnce) {
  json::object started = Start(tv_);
  std::string user_code(started.at("user_code").as_string());
  EXPECT_EQ(started.at("verification_uri").as_string(),
            "https://login.test/" + tenant_.tenant.id + "/oauth2/v2.0/devicelogin");
  EXPECT_NE(started.at("message").as_string().find(user_code), std::string::npos);
  EXPECT_EQ(started.at("interval").as_int64(), 5);
  EXPECT_EQ(Error(Poll(started)), "authorization_pending");

  // The code, typed in lower case without its dash; the page names the application that asks.
  PageResponse entry = Page({{"user_code", user_code}}, false);
  ASSERT_EQ(entry.status, 200) << entry.body;
  std::string typed = AsciiLower(user_code.substr(0, 4) + user_code.substr(5));
  PageResponse confirm = Page(Form(entry, {{"user_code", typed}}));
  ASSERT_EQ(confirm.status, 200) << confirm.body;
  EXPECT_NE(confirm.body.find("Conference Room TV"), std::string::npos);
  EXPECT_NE(confirm.body.find("If someone sent you this code"), std::string::npos);
  PageResponse signin = Page(Form(confirm, {{"step", "confirm"}}));
  ASSERT_EQ(signin.status, 200);
  EXPECT_NE(signin.body.find("autocomplete=\"current-password\""), std::string::npos);
  EXPECT_EQ(Error(Poll(started)), "authorization_pending");
  PageResponse consent = Call(FormOf(signin, Upn(), "Str0ng!Passw0rd"), true, "",
                              &SignInPages::DeviceLogin);
  EXPECT_NE(consent.body.find("Sign you in and read your profile"), std::string::npos);
  PageResponse done = Page(Form(consent, {{"step", "consent"}}));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("You have signed in to <strong>Conference Room TV"), std::string::npos);

  TokenResult tokens = Poll(started);
  ASSERT_TRUE(std::holds_alternative<json::object>(tokens)) << Error(tokens);
  auto verifier = crypto::JwtVerifier::FromJwks(tokens_->Jwks());
  auto access = verifier->Verify(std::get<json::object>(tokens).at("access_token").as_string());
  ASSERT_TRUE(access.ok());
  EXPECT_EQ(access->at("oid").as_string(), user_id_);
  EXPECT_EQ(access->at("azp").as_string(), tv_);
  EXPECT_TRUE(std::get<json::object>(tokens).contains("refresh_token"));
  // Once: the device code is spent, and the user code with it.
  EXPECT_EQ(Error(Poll(started)), "invalid_grant");
  EXPECT_EQ(Page(Form(entry, {{"user_code", user_code}})).status, 400);
}

TEST_F(DeviceLoginTest, ASessionSkipsThePasswordAndACancelRefusesTheDevice) {
  ASSERT_EQ(SignIn(Request()).status, 302);  // an SSO session from the code flow
  json::object started = Start(tv_);
  std::string user_code(started.at("user_code").as_string());
  PageResponse entry = Page({}, false);
  PageResponse confirm = Page(Form(entry, {{"user_code", user_code}}));
  EXPECT_NE(confirm.body.find("signed in as <strong>" + Upn()), std::string::npos);
  PageResponse consent = Page(Form(confirm, {{"step", "confirm"}}));
  PageResponse done = Page(Form(consent, {{"step", "consent"}}));
  EXPECT_NE(done.body.find("You have signed in"), std::string::npos) << done.body;
  EXPECT_TRUE(std::holds_alternative<json::object>(Poll(started)));

  json::object denied = Start(tv_);
  confirm = Page(Form(entry, {{"user_code", std::string(denied.at("user_code").as_string())}}));
  EXPECT_NE(Page(Form(confirm, {{"step", "deny"}})).body.find("Nothing was signed in"),
            std::string::npos);
  EXPECT_EQ(Error(Poll(denied)), "access_denied");
}

TEST_F(DeviceLoginTest, ThePageRefusesForgedFormsUnknownCodesAndAppsWithoutPublicFlows) {
  json::object started = Start(tv_);
  std::string user_code(started.at("user_code").as_string());
  ASSERT_EQ(SignIn(Request()).status, 302);  // a session a forged form would ride on
  PageResponse entry = Page({}, false);
  // Another site's post (no token, or another browser's) approves nothing.
  Params forged{{"user_code", user_code}, {"step", "confirm"}, {"csrf", std::string(43, 'A')}};
  EXPECT_EQ(Page(forged).status, 400);
  Params stolen = Form(entry, {{"user_code", user_code}, {"step", "confirm"}});
  EXPECT_EQ(Call(stolen, true, "meridian_form=" + std::string(43, 'B'), &SignInPages::DeviceLogin)
                .status,
            400);
  EXPECT_EQ(Error(Poll(started)), "authorization_pending");
  // A code nobody was given.
  PageResponse unknown = Page(Form(entry, {{"user_code", "BCDF-GHJK"}}));
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("not valid"), std::string::npos);
  // The endpoint: an application that does not allow public client flows is refused.
  TokenRequest r;
  r.tenant = tenant_.tenant.id;
  r.form = {{"client_id", app_id_}, {"scope", "openid"}};
  TokenResult out;
  tokens_->DeviceAuthorization(std::move(r), [&](TokenResult t) { out = std::move(t); });
  EXPECT_EQ(Error(out), "unauthorized_client");
}

// A user whose password must change (as a new tenant's administrator's one-time password does)
// changes it on the page, under the policy, and the sign-in goes on.
TEST_F(SignInPagesTest, APasswordThatMustChangeIsChangedOnThePage) {
  ASSERT_TRUE(d_->Update(*admin_, Users(), user_id_,
                         {{"passwordProfile", {{"password", "Coral!Reef-4471"},
                                               {"forceChangePasswordNextSignIn", true}}}},
                         std::nullopt)
                  .ok());
  PageResponse change = SignIn(Request(), "Coral!Reef-4471");
  ASSERT_EQ(change.status, 200) << change.body;
  EXPECT_NE(change.body.find("autocomplete=\"new-password\""), std::string::npos);
  EXPECT_EQ(HeaderOf(change, "Location"), "");
  auto submit = [&](const std::string& fresh, const std::string& confirm) {
    Params form = FormOf(change, Upn(), "");
    form.resize(form.size() - 1);  // no password
    form.emplace_back("new_password", fresh);
    form.emplace_back("confirm_password", confirm);
    return Call(form, true);
  };
  PageResponse r = submit("Quiet!Harbour-81", "Quiet!Harbour-82");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("not the same"), std::string::npos);
  r = submit("password", "password");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("complexity"), std::string::npos);
  r = submit("Coral!Reef-4471", "Coral!Reef-4471");
  EXPECT_NE(r.body.find("must differ"), std::string::npos);
  // A forged ticket changes nothing.
  Params forged = FormOf(change, Upn(), "");
  for (auto& kv : forged) {
    if (kv.first == "ticket") kv.second = std::string(43, 'x');
  }
  forged.emplace_back("new_password", "Quiet!Harbour-81");
  forged.emplace_back("confirm_password", "Quiet!Harbour-81");
  EXPECT_NE(Call(forged, true).body.find("ran out"), std::string::npos);

  clock_.Advance(1000);  // the log lists by time: the sign-in comes after the refusal
  r = submit("Quiet!Harbour-81", "Quiet!Harbour-81");
  ASSERT_EQ(r.status, 302) << r.body;
  EXPECT_FALSE(Returned(r)["code"].empty());
  // The proof was used: the same page again changes nothing.
  EXPECT_NE(submit("Other!Harbour-92", "Other!Harbour-92").body.find("ran out"),
            std::string::npos);
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  EXPECT_FALSE(d_->SignInWithPassword(ctx, Upn(), "Coral!Reef-4471").ok());
  auto in = d_->SignInWithPassword(ctx, Upn(), "Quiet!Harbour-81");
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->must_change_password);
  // The log: the password that had to change (50055), then the sign-in (0).
  auto log = d_->ListSignIns(ctx, {});
  ASSERT_TRUE(log.ok());
  ASSERT_GE(log->items.size(), 2u);
  EXPECT_EQ(log->items[0].data.at("status").at("errorCode"), 0);
  EXPECT_EQ(log->items[1].data.at("status").at("errorCode"), 50055);
}

// Per-user MFA: the first sign-in registers an authenticator (QR code, a code proving it, recovery
// codes shown once); later sign-ins ask for its code or a recovery code, each usable once, and
// five wrong codes end the sign-in.
TEST_F(SignInPagesTest, MfaRegistersAnAuthenticatorThenAsksForItsCodes) {
  ASSERT_EQ(SignIn(Request()).status, 302);  // a session of one factor, before MFA is asked
  std::optional<Status> set;
  d_->SetMfaRequirement(*admin_, user_id_, "enforced",
                        [&](Result<directory::WriteResult> w) { set = w.status(); });
  ASSERT_TRUE(set && set->ok()) << set->ToString();

  // The one-factor session no longer serves: prompt=none cannot sign in, the page asks again.
  EXPECT_EQ(Returned(Call(Request(kWeb, {{"prompt", "none"}})))["error"], "login_required");
  PageResponse enrol = SignIn(Request());
  ASSERT_EQ(enrol.status, 200) << enrol.body;
  EXPECT_NE(enrol.body.find("<svg"), std::string::npos);
  std::smatch key;
  ASSERT_TRUE(std::regex_search(enrol.body, key, std::regex("<code>([A-Z2-7]+)</code>")));
  std::string seed = *crypto::Base32Decode(key[1].str());
  auto code_now = [&] { return crypto::TotpCode(seed, clock_.NowMillis() / 1000 / 30); };
  auto post_code = [&](const PageResponse& page, const std::string& code) {
    Params form = FormOf(page, Upn(), "");
    form.resize(form.size() - 2);
    form.emplace_back("otc", code);
    return Call(form, true);
  };
  PageResponse wrong = post_code(enrol, "000000" == code_now() ? "111111" : "000000");
  EXPECT_EQ(wrong.status, 400);
  EXPECT_NE(wrong.body.find("<svg"), std::string::npos);  // the same registration, again
  PageResponse codes = post_code(wrong, code_now());
  ASSERT_EQ(codes.status, 200) << codes.body;
  std::vector<std::string> recovery;
  std::regex item("<li><code>([A-Z2-7-]+)</code></li>");
  for (std::sregex_iterator it(codes.body.begin(), codes.body.end(), item), end; it != end; ++it) {
    recovery.push_back((*it)[1]);
  }
  EXPECT_EQ(recovery.size(), 10u);
  PageResponse back = Call(FormOf(codes, "", "") /* step=continue */, true);
  ASSERT_EQ(back.status, 302) << back.body;
  auto redeemed = Redeem(Returned(back)["code"]);
  ASSERT_TRUE(std::holds_alternative<json::object>(redeemed));
  auto verifier = crypto::JwtVerifier::FromJwks(tokens_->Jwks());
  auto id = verifier->Verify(std::get<json::object>(redeemed).at("id_token").as_string());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(json::serialize(id->at("amr")), R"(["pwd","otp","mfa"])");

  // The next sign-in asks for a code; the one that registered is spent (its time step).
  PageResponse challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  ASSERT_EQ(challenge.status, 200);
  EXPECT_NE(challenge.body.find("autocomplete=\"one-time-code\""), std::string::npos);
  EXPECT_EQ(post_code(challenge, code_now()).status, 400);
  clock_.Advance(30'000);
  EXPECT_EQ(post_code(challenge, code_now()).status, 302);
  // A recovery code works once.
  challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  PageResponse by_recovery = post_code(challenge, AsciiLower(recovery[3]));
  ASSERT_EQ(by_recovery.status, 302) << by_recovery.body;
  challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  EXPECT_EQ(post_code(challenge, recovery[3]).status, 400);

  // Five wrong codes end the sign-in: even the right code does not revive it.
  challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  PageResponse r;
  for (int i = 0; i < 5; ++i) r = post_code(challenge, "12345" + std::to_string(i));
  EXPECT_NE(r.body.find("Too many wrong codes"), std::string::npos) << r.body;
  clock_.Advance(30'000);
  EXPECT_NE(post_code(challenge, code_now()).body.find("ran out"), std::string::npos);
  // Each wrong code is in the sign-in log.
  auto log = d_->ListSignIns(testing::ContextForTest::TokenService(tenant_.tenant.id), {});
  int wrong_codes = 0;
  for (const auto& e : log->items) wrong_codes += e.data.at("status").at("errorCode") == 500121;
  EXPECT_GE(wrong_codes, 7);

  // Ten wrong codes in a row lock the user's second step, whatever the sign-in: a new password
  // sign-in does not buy new guesses, and even the right code waits out the lock.
  // (one wrong code was counted since the recovery code's success, five with the last ticket)
  for (int i = 0; i < 4; ++i) {
    challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
    EXPECT_EQ(post_code(challenge, "65432" + std::to_string(i)).status, 400);
  }
  challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  clock_.Advance(30'000);
  EXPECT_NE(post_code(challenge, code_now()).body.find("Try again later"), std::string::npos);
  clock_.Advance(61'000);
  challenge = SignIn(Request(kWeb, {{"prompt", "login"}}));
  EXPECT_EQ(post_code(challenge, code_now()).status, 302);
}

// RP-initiated logout: the session ends on the server, and the browser goes back only to a URI
// the application registered; without a hint naming the user, the user confirms first.
TEST_F(SignInPagesTest, LogoutEndsTheSessionAndReturnsOnlyToARegisteredUri) {
  auto logout = [&](Params params, bool post = false, std::string cookies = "") {
    return Call(std::move(params), post, cookies, &SignInPages::Logout);
  };
  auto signed_in = [&](const std::string& cookies) {
    return !Returned(Call(Request(kWeb, {{"prompt", "none"}}), false, cookies))["code"].empty();
  };
  auto redeemed = Redeem(Returned(SignIn(Request()))["code"]);
  ASSERT_TRUE(std::holds_alternative<json::object>(redeemed));
  std::string hint(std::get<json::object>(redeemed).at("id_token").as_string());
  std::string session = cookies_;

  // Another site's link (no hint) asks first; a forged confirmation changes nothing.
  PageResponse confirm = logout({{"post_logout_redirect_uri", kWeb}, {"client_id", app_id_}});
  EXPECT_EQ(confirm.status, 200);
  EXPECT_NE(confirm.body.find(Upn()), std::string::npos);
  EXPECT_EQ(logout({{"csrf", std::string(43, 'A')}}, true).status, 200);
  EXPECT_TRUE(signed_in(session));
  // Not a registered URI: never followed, even with a valid hint.
  PageResponse open = logout({{"post_logout_redirect_uri", "https://evil.example/"},
                              {"id_token_hint", hint}});
  EXPECT_EQ(HeaderOf(open, "Location"), "");
  EXPECT_NE(open.body.find("You signed out"), std::string::npos);
  EXPECT_FALSE(signed_in(session)) << "the session ended on the server, not just its cookie";

  // With a hint naming the session's user: signed out at once, back to the application.
  ASSERT_EQ(SignIn(Request()).status, 302);
  session = cookies_;
  PageResponse out = logout({{"post_logout_redirect_uri", kWeb},
                             {"id_token_hint", hint},
                             {"state", "bye 1"}});
  EXPECT_EQ(out.status, 302);
  EXPECT_EQ(HeaderOf(out, "Location"), std::string(kWeb) + "?state=bye%201");
  EXPECT_FALSE(signed_in(session));
  // The confirmation form signs out too; a hint of another tenant or a forged one is refused.
  ASSERT_EQ(SignIn(Request()).status, 302);
  session = cookies_;
  confirm = logout({});
  Params form = FormOf(confirm, "", "");
  form.resize(form.size() - 2);
  EXPECT_NE(logout(form, true).body.find("You signed out"), std::string::npos);
  EXPECT_FALSE(signed_in(session));
  std::string forged = hint.substr(0, hint.rfind('.') + 1) + "AAAA";
  EXPECT_EQ(logout({{"id_token_hint", forged}}).status, 400);
}

// Consent: permissions not granted yet are listed on a page; accepted, they are the user's own
// grant and are not asked again; declined, the application hears access_denied; those only an
// administrator may grant send the user back with consent_required.
TEST_F(SignInPagesTest, ConsentIsAskedForWhatIsNotGrantedYetAndKept) {
  Params asks = Request(kWeb, {{"scope", "openid User.Read User.ReadWrite"}});
  PageResponse page = SignIn(asks);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("Read and update your profile"), std::string::npos);
  EXPECT_EQ(page.body.find("(User.Read)"), std::string::npos) << "granted already: not asked";
  Params form = FormOf(page, "", "");
  form.resize(form.size() - 2);
  Params declined = form;
  declined.emplace_back("step", "noconsent");
  EXPECT_EQ(Returned(Call(declined, true))["error"], "access_denied");
  // A forged accept (no CSRF token) grants nothing.
  Params forged = form;
  for (auto& kv : forged) {
    if (kv.first == "csrf") kv.second = std::string(43, 'A');
  }
  forged.emplace_back("step", "consent");
  EXPECT_EQ(HeaderOf(Call(forged, true), "Location"), "");
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  EXPECT_EQ(*d_->GrantedScopes(ctx, sp_id_, directory::kGraphAppId, user_id_),
            (std::set<std::string>{"User.Read"}));

  form.emplace_back("step", "consent");
  PageResponse back = Call(form, true);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_FALSE(Returned(back)["code"].empty()) << HeaderOf(back, "Location");
  EXPECT_EQ(*d_->GrantedScopes(ctx, sp_id_, directory::kGraphAppId, user_id_),
            (std::set<std::string>{"User.Read", "User.ReadWrite"}));
  // Not asked again (the session signs in); prompt=consent asks for everything.
  EXPECT_FALSE(Returned(Call(asks))["code"].empty());
  Params again = asks;
  again.emplace_back("prompt", "consent");
  EXPECT_NE(Call(again).body.find("(User.Read)"), std::string::npos);
  // prompt=none cannot ask; an administrator's permission cannot be consented by a user.
  Params silent = Request(kWeb, {{"scope", "openid Mail.Send"}});
  EXPECT_EQ(Returned(Call(Request(kWeb, {{"scope", "User.ReadBasic.All"}, {"prompt", "none"}})))
                ["error"],
            "consent_required");
  EXPECT_EQ(Returned(Call(Request(kWeb, {{"scope", "Directory.Read.All"}})))["error"],
            "consent_required");
}

// Pushed authorization requests (RFC 9126): the client pushes its request and the browser carries
// only client_id and request_uri, which works once, for that client, for a minute.
TEST_F(SignInPagesTest, PushedRequestsCarryTheParametersOnce) {
  auto push = [&](Params form) {
    TokenRequest r;
    r.tenant = tenant_.tenant.id;
    r.form = std::move(form);
    TokenResult out;
    tokens_->PushAuthorizationRequest(std::move(r), [&](TokenResult t) { out = std::move(t); });
    return out;
  };
  Params pushed = Request();
  pushed.emplace_back("client_secret", secret_);
  TokenResult answer = push(pushed);
  ASSERT_TRUE(std::holds_alternative<json::object>(answer))
      << std::get<OAuthError>(answer).description;
  std::string uri(std::get<json::object>(answer).at("request_uri").as_string());
  EXPECT_EQ(std::get<json::object>(answer).at("expires_in").as_int64(), 60);
  EXPECT_EQ(uri.rfind("urn:ietf:params:oauth:request_uri:", 0), 0u);

  Params front{{"client_id", app_id_}, {"request_uri", uri}};
  PageResponse page = Call(front);
  ASSERT_EQ(page.status, 200) << page.body;
  // The page carries the request_uri, not the parameters: they never reach the browser.
  EXPECT_NE(page.body.find("name=\"request_uri\""), std::string::npos);
  EXPECT_EQ(page.body.find("st-1"), std::string::npos);
  EXPECT_EQ(page.body.find("app.example"), std::string::npos);
  // A post that adds parameters of its own does not change the request.
  Params tampered = FormOf(page, Upn(), "Str0ng!Passw0rd");
  tampered.emplace_back("redirect_uri", kSpa);
  tampered.emplace_back("state", "forged");
  PageResponse back = Call(tampered, true);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(HeaderOf(back, "Location").rfind(std::string(kWeb) + "?", 0), 0u);
  EXPECT_EQ(Returned(back)["state"], "st-1");
  EXPECT_TRUE(std::holds_alternative<json::object>(Redeem(Returned(back)["code"])));
  // Once; and only for the client that pushed it; and for a minute.
  EXPECT_EQ(Call(front).status, 400);
  uri = std::string(std::get<json::object>(push(pushed)).at("request_uri").as_string());
  EXPECT_EQ(Call({{"client_id", "00000000-0000-4000-8000-000000000001"}, {"request_uri", uri}})
                .status,
            400);
  uri = std::string(std::get<json::object>(push(pushed)).at("request_uri").as_string());
  clock_.Advance(61'000);
  EXPECT_EQ(Call({{"client_id", app_id_}, {"request_uri", uri}}).status, 400);
  // What the endpoint refuses: a wrong secret, a request_uri inside, an unregistered redirect.
  Params wrong = pushed;
  wrong.back().second = "nope";
  EXPECT_EQ(std::get<OAuthError>(push(wrong)).error, "invalid_client");
  Params nested = pushed;
  nested.emplace_back("request_uri", "urn:ietf:params:oauth:request_uri:x");
  EXPECT_EQ(std::get<OAuthError>(push(nested)).error, "invalid_request");
  Params elsewhere = pushed;
  for (auto& kv : elsewhere) {
    if (kv.first == "redirect_uri") kv.second = "https://evil.example/";
  }
  EXPECT_EQ(std::get<OAuthError>(push(elsewhere)).error, "invalid_request");
}

// The codes tried on one pending sign-in are counted before they are checked, so that posts
// racing one another get five attempts in all: once five are counted, a post is not checked (nor
// logged) at all. The race is set up by counting five on the sign-in's record directly.
TEST_F(SignInPagesTest, ASignInWithFiveAttemptsCountedChecksNoMoreCodes) {
  std::optional<Status> registered;
  d_->RegisterTotp(testing::ContextForTest::TokenService(tenant_.tenant.id), user_id_,
                   crypto::Seal(*kek_, {"totp-seed", tenant_.tenant.id, user_id_},
                                std::string(20, 's'), *random_),
                   {}, [&](Result<directory::WriteResult> w) { registered = w.status(); });
  ASSERT_TRUE(registered && registered->ok());
  PageResponse challenge = SignIn(Request());
  ASSERT_NE(challenge.body.find("one-time-code"), std::string::npos) << challenge.body;
  Params form = FormOf(challenge, Upn(), "");
  form.resize(form.size() - 2);
  std::string ticket;
  for (const auto& [k, v] : form) {
    if (k == "ticket") ticket = v;
  }
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  ASSERT_TRUE(d_->UpdateGrant(ctx, directory::kPendingSignInGrant, directory::GrantHandle(ticket),
                              [](const std::optional<directory::Grant>& g, int64_t)
                                  -> Result<directory::GrantChange> {
                                json::object d = g->data;
                                d["attempts"] = 5;
                                return directory::GrantChange{std::move(d), g->expires_ms};
                              })
                  .ok());
  form.emplace_back("otc", "ABCDEFGHIJ");
  EXPECT_NE(Call(form, true).body.find("Too many wrong codes"), std::string::npos);
  auto log = d_->ListSignIns(ctx, {});
  ASSERT_TRUE(log.ok());
  for (const auto& e : log->items) EXPECT_NE(e.data.at("status").at("errorCode"), 500121);
}
}  // namespace
}  // namespace meridian::auth
