#include "auth/token_service.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <ctime>
#include <filesystem>
#include <set>

#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/directory.h"
#include "directory/schema.h"
#include "directory/testing/contexts.h"
#include "directory/testing/fakes.h"

namespace meridian::auth {
namespace {
namespace json = boost::json;
using Form = std::vector<std::pair<std::string, std::string>>;

// Milliseconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ" (as FormatIso8601 writes it).
int64_t ParseIso8601(const std::string& s) {
  std::tm tm{};
  char z = 0;
  EXPECT_EQ(sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z),
            7)
      << s;
  EXPECT_EQ(z, 'Z') << s;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-auth-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    directory::DirectoryOptions o;
    o.data_dir = dir_;
    o.clock = &clock_;
    o.password_hashing = crypto::PasswordHashing::Pbkdf2(1000);
    o.sync = false;
    directory_ = std::move(directory::Directory::Open(o)).value();
    tenant_ = std::move(directory_->CreateTenant("Contoso", "US")).value();
    TokenServiceOptions t;
    t.public_url = "https://localhost:8443";
    tokens_ = std::make_unique<TokenService>(directory_.get(), kek_, t);
    ASSERT_TRUE(tokens_->Start().ok());
  }
  void TearDown() override {
    tokens_.reset();
    directory_.reset();
    std::filesystem::remove_all(dir_);
  }
  Form ClientCredentials(const directory::NewTenant& t) {
    return {{"grant_type", "client_credentials"},
            {"client_id", t.app_id},
            {"client_secret", t.client_secret},
            {"scope", tokens_->options().graph_resource + "/.default"}};
  }
  TokenResult Token(const Form& form,
                                  std::optional<std::string_view> basic = std::nullopt) {
    return tokens_->Token(tenant_.tenant.id, form, basic);
  }
  // The OAuth error of a request that must fail.
  OAuthError TokenError(const Form& form, std::optional<std::string_view> basic = std::nullopt) {
    auto r = Token(form, basic);
    EXPECT_TRUE(std::holds_alternative<OAuthError>(r)) << json::serialize(std::get<0>(r));
    return std::holds_alternative<OAuthError>(r) ? std::get<OAuthError>(r) : OAuthError{};
  }
  std::string Issue(const directory::NewTenant& t) {
    auto r = tokens_->Token(t.tenant.id, ClientCredentials(t), std::nullopt);
    EXPECT_TRUE(std::holds_alternative<json::object>(r)) << std::get<OAuthError>(r).description;
    return std::string(std::get<json::object>(r).at("access_token").as_string());
  }
  static json::object ClaimsOf(const std::string& token) {
    size_t d1 = token.find('.'), d2 = token.rfind('.');
    return json::parse(*Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1))).as_object();
  }

  // The deployment's real signing key, as the token service loaded it from the directory: a
  // token signed with it differs from an issued one only in what a test changes.
  const crypto::SigningKey& RealKey() {
    if (!real_key_) {
      auto stored = directory_->SigningKeys();
      EXPECT_TRUE(stored.ok() && stored->size() == 1u);
      auto pem = crypto::Open(kek_, {"signing-key", "global", stored->back().kid()},
                              stored->back().sealed_private_key());
      EXPECT_TRUE(pem.ok()) << pem.status().ToString();
      real_key_.emplace(std::move(crypto::SigningKey::FromPrivatePem(*pem)).value());
    }
    return *real_key_;
  }
  std::string SignWithRealKey(const json::object& claims) {
    return "Bearer " + *crypto::SignJwt(RealKey(), claims);
  }
  // A token over arbitrary header and payload text, signed by the real key with `md` (RS256 for
  // EVP_sha256), for the cases SignJwt cannot write.
  std::string SignRaw(std::string_view header, std::string_view payload,
                      const EVP_MD* md = EVP_sha256()) {
    const crypto::SigningKey& key = RealKey();
    std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t len = 512;
    std::string sig(len, '\0');
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, md, nullptr, key.pkey()), 1);
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    EVP_MD_CTX_free(ctx);
    sig.resize(len);
    return "Bearer " + input + "." + Base64UrlEncode(sig);
  }
  std::string HeaderFor(std::string_view alg) {
    return json::serialize(json::object{{"typ", "JWT"}, {"alg", alg}, {"kid", RealKey().kid()}});
  }

  // Authenticate must refuse `header` with Unauthenticated and a message containing `part`.
  void ExpectRefused(const std::string& header, std::string_view part) {
    Result<directory::SecurityContext> r = Status(Code::kInternal, "threw");
    EXPECT_NO_THROW(r = tokens_->Authenticate(header));
    ASSERT_FALSE(r.ok()) << "accepted: " << header;
    EXPECT_EQ(r.status().code(), Code::kUnauthenticated) << r.status().ToString();
    EXPECT_EQ(r.status().graph_code(), "InvalidAuthenticationToken");
    EXPECT_NE(r.status().message().find(part), std::string::npos)
        << "'" << r.status().message() << "' lacks '" << part << "'";
  }
  void ExpectAccepted(const std::string& header) {
    auto r = tokens_->Authenticate(header);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  }

  Status SetServicePrincipalEnabled(bool enabled) {
    auto r = directory_->Update(testing::ContextForTest::Operator(tenant_.tenant.id),
                                *directory::FindType("servicePrincipal"), tenant_.sp_id,
                                {{"accountEnabled", enabled}}, std::nullopt);
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string dir_;
  ManualClock clock_;
  crypto::Kek kek_ = crypto::Kek::Generate(*SecureRandom::Default());
  std::unique_ptr<directory::Directory> directory_;
  directory::NewTenant tenant_;
  std::unique_ptr<TokenService> tokens_;
  std::optional<crypto::SigningKey> real_key_;
};

// --- Token endpoint -----------------------------------------------------------------------------

TEST_F(TokenServiceTest, IssuesTokensThatAuthenticateUntilTheyExpire) {
  std::string token = Issue(tenant_);
  auto ctx = tokens_->Authenticate("Bearer " + token);
  ASSERT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(ctx->tenant_id(), tenant_.tenant.id);
  EXPECT_EQ(ctx->principal_id(), tenant_.sp_id);
  EXPECT_EQ(ctx->app_id(), tenant_.app_id);
  // Twice: the second answer comes from the verified-token cache and must agree.
  EXPECT_TRUE(tokens_->Authenticate("Bearer " + token).ok());
  clock_.Advance((3600 + 301) * 1000LL);
  EXPECT_EQ(tokens_->Authenticate("Bearer " + token).status().code(), Code::kUnauthenticated)
      << "an expired token must fail even when it was verified before";
}

TEST_F(TokenServiceTest, RefusesBadClientsAndScopes) {
  auto form = ClientCredentials(tenant_);
  form[2].second += "x";
  EXPECT_EQ(TokenError(form).error, "invalid_client");
  form = ClientCredentials(tenant_);
  form[3].second = "https://graph.microsoft.com/.default";
  EXPECT_EQ(TokenError(form).error, "invalid_scope");
  form = ClientCredentials(tenant_);
  form.emplace_back("client_secret", "second");
  EXPECT_EQ(TokenError(form).error, "invalid_request");
  // The client exists only in its own tenant.
  auto other = std::move(directory_->CreateTenant("Fabrikam", "FR")).value();
  auto cross = tokens_->Token(other.tenant.id, ClientCredentials(tenant_), std::nullopt);
  ASSERT_TRUE(std::holds_alternative<OAuthError>(cross));
  // client_secret_basic works and must not be combined with client_secret_post.
  form = ClientCredentials(tenant_);
  form.erase(form.begin() + 1, form.begin() + 3);
  std::string basic = "Basic " + Base64Encode(tenant_.app_id + ":" + tenant_.client_secret);
  EXPECT_TRUE(std::holds_alternative<json::object>(Token(form, std::string_view(basic))));
  EXPECT_TRUE(std::holds_alternative<OAuthError>(
      Token(ClientCredentials(tenant_), std::string_view(basic))));
}

TEST_F(TokenServiceTest, ClientSecretsStopWorkingAtTheirEndDateTime) {
  auto app = directory_->Lookup(testing::ContextForTest::Operator(tenant_.tenant.id),
                                *directory::FindType("application"), tenant_.app_id);
  ASSERT_TRUE(app.ok()) << app.status().ToString();
  const json::array& creds = app->data.at("passwordCredentials").as_array();
  ASSERT_EQ(creds.size(), 1u);
  int64_t end_ms = ParseIso8601(std::string(creds[0].at("endDateTime").as_string()));
  ASSERT_GT(end_ms, clock_.NowMillis());

  clock_.Set(end_ms - 1000);
  EXPECT_TRUE(std::holds_alternative<json::object>(Token(ClientCredentials(tenant_))))
      << "the secret works until its last second";
  clock_.Set(end_ms);
  OAuthError e = TokenError(ClientCredentials(tenant_));
  EXPECT_EQ(e.http_status, 401);
  EXPECT_EQ(e.error, "invalid_client");
  clock_.Advance(365LL * 24 * 3600 * 1000);
  EXPECT_EQ(TokenError(ClientCredentials(tenant_)).error, "invalid_client");
}

TEST_F(TokenServiceTest, DisabledServicePrincipalGetsNoToken) {
  ASSERT_TRUE(std::holds_alternative<json::object>(Token(ClientCredentials(tenant_))));
  ASSERT_TRUE(SetServicePrincipalEnabled(false).ok());
  OAuthError e = TokenError(ClientCredentials(tenant_));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.error, "unauthorized_client");
  EXPECT_NE(e.description.find("disabled"), std::string::npos) << e.description;
  ASSERT_TRUE(SetServicePrincipalEnabled(true).ok());
  EXPECT_TRUE(std::holds_alternative<json::object>(Token(ClientCredentials(tenant_))));
}

// --- Authenticate: every check, with tokens signed by the deployment's real key -----------------

TEST_F(TokenServiceTest, RealKeySignaturesOfIssuedClaimsAreAccepted) {
  // The baseline for the tests below: re-signing an issued token's claims with the real key
  // gives a token that is accepted, so a refusal there is due to the one claim changed.
  json::object claims = ClaimsOf(Issue(tenant_));
  ExpectAccepted(SignWithRealKey(claims));
  ExpectAccepted(SignRaw(HeaderFor("RS256"), json::serialize(claims)));
}

TEST_F(TokenServiceTest, RefusesRealKeyTokensForAnotherAudience) {
  json::object issued = ClaimsOf(Issue(tenant_));
  std::vector<json::value> wrong = {"https://graph.microsoft.com",
                                    json::value(tokens_->options().graph_app_id),
                                    json::value(tokens_->options().graph_resource + "/"),
                                    "",
                                    json::array{json::value(tokens_->options().graph_resource)},
                                    nullptr};
  for (const json::value& aud : wrong) {
    SCOPED_TRACE("aud " + json::serialize(aud));
    json::object c = issued;
    c["aud"] = aud;
    ExpectRefused(SignWithRealKey(c), "Invalid audience");
  }
  json::object c = issued;
  c.erase("aud");
  ExpectRefused(SignWithRealKey(c), "Invalid audience");
}

TEST_F(TokenServiceTest, RefusesRealKeyTokensFromAnotherIssuer) {
  json::object issued = ClaimsOf(Issue(tenant_));
  auto other = std::move(directory_->CreateTenant("Fabrikam", "FR")).value();
  const std::string& tid = tenant_.tenant.id;
  auto with = [&](std::string_view claim, json::value v) {
    json::object c = issued;
    c[claim] = std::move(v);
    return c;
  };
  constexpr std::string_view kIssuerMismatch = "Invalid issuer: the token's iss";
  // The issuer of another tenant, and ours at another base URL or version.
  for (const std::string& iss :
       {tokens_->Issuer(other.tenant.id), "https://evil.example/" + tid + "/v2.0",
        "http://localhost:8443/" + tid + "/v2.0", "https://localhost:8443/" + tid + "/v2.0/",
        "https://localhost:8443/" + tid, "https://sts.windows.net/" + tid + "/"}) {
    SCOPED_TRACE("iss " + iss);
    ExpectRefused(SignWithRealKey(with("iss", json::value(iss))), kIssuerMismatch);
  }
  ExpectRefused(SignWithRealKey(with("iss", nullptr)), kIssuerMismatch);
  // A tid that does not match the iss.
  ExpectRefused(SignWithRealKey(with("tid", json::value(other.tenant.id))), kIssuerMismatch);
  // No tenant id at all, with the iss that the empty tid would give.
  json::object no_tid = with("iss", json::value(tokens_->Issuer("")));
  no_tid["tid"] = "";
  ExpectRefused(SignWithRealKey(no_tid), "Invalid issuer: the token has no tenant id");
  no_tid.erase("tid");
  ExpectRefused(SignWithRealKey(no_tid), "Invalid issuer: the token has no tenant id");
  json::object not_uuid = with("iss", json::value(tokens_->Issuer("contoso")));
  not_uuid["tid"] = "contoso";
  ExpectRefused(SignWithRealKey(not_uuid), "Invalid issuer: the token has no tenant id");
}

TEST_F(TokenServiceTest, RefusesRealKeyTokensWithoutAnObjectId) {
  json::object c = ClaimsOf(Issue(tenant_));
  c["oid"] = "not-a-uuid";
  ExpectRefused(SignWithRealKey(c), "no object id");
  c.erase("oid");
  ExpectRefused(SignWithRealKey(c), "no object id");
}

TEST_F(TokenServiceTest, RefusesTokensSignedByAnotherKeyOrTampered) {
  std::string token = Issue(tenant_);
  json::object claims = ClaimsOf(token);
  auto stranger = crypto::SigningKey::GenerateRsa2048();
  ExpectRefused("Bearer " + *crypto::SignJwt(*stranger, claims), "unknown key");
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  json::object forged = claims;
  forged["tid"] = "00000000-0000-4000-8000-000000000000";
  std::string body = Base64UrlEncode(json::serialize(forged));
  ExpectRefused("Bearer " + token.substr(0, d1 + 1) + body + token.substr(d2),
                "signature is invalid");
  ExpectRefused("Basic abc", "Access token is empty");
  ExpectRefused("Bearer ", "Access token is empty");
}

TEST_F(TokenServiceTest, RefusesAlgorithmsOtherThanRs256) {
  std::string payload = json::serialize(ClaimsOf(Issue(tenant_)));
  ExpectAccepted(SignRaw(HeaderFor("RS256"), payload));  // the same construction, right alg
  std::string none_input = Base64UrlEncode(HeaderFor("none")) + "." + Base64UrlEncode(payload);
  ExpectRefused("Bearer " + none_input + ".", "unsupported token algorithm 'none'");
  ExpectRefused(SignRaw(HeaderFor("none"), payload), "unsupported token algorithm 'none'");
  // RS512 over a signature that is a genuine RS256 one (what a verifier that ignored the header
  // would accept), and a genuine RS512 signature.
  ExpectRefused(SignRaw(HeaderFor("RS512"), payload), "unsupported token algorithm 'RS512'");
  ExpectRefused(SignRaw(HeaderFor("RS512"), payload, EVP_sha512()),
                "unsupported token algorithm 'RS512'");
  // HS256 keyed with what anyone can download: the public key's PEM, its JWK text, its modulus.
  const crypto::SigningKey& key = RealKey();
  std::string hs_input = Base64UrlEncode(HeaderFor("HS256")) + "." + Base64UrlEncode(payload);
  for (const std::string& secret :
       {key.PublicPem(), json::serialize(key.PublicJwk()), json::serialize(tokens_->Jwks()),
        *Base64UrlDecode(key.PublicJwk().at("n").as_string())}) {
    std::string mac = crypto::HmacSha256(secret, hs_input);
    ExpectRefused("Bearer " + hs_input + "." + Base64UrlEncode(mac),
                  "unsupported token algorithm 'HS256'");
  }
}

TEST_F(TokenServiceTest, RefusesTokensNotYetValid) {
  json::object c = ClaimsOf(Issue(tenant_));
  int64_t now = clock_.NowSeconds(), skew = tokens_->options().clock_skew_seconds;
  c["nbf"] = now + skew;
  ExpectAccepted(SignWithRealKey(c));  // within the allowed skew
  c["nbf"] = now + skew + 1;
  ExpectRefused(SignWithRealKey(c), "not yet valid");
  c["nbf"] = now + 86400;
  ExpectRefused(SignWithRealKey(c), "not yet valid");
}

TEST_F(TokenServiceTest, RefusesExpiredTokensNeverSeenBefore) {
  json::object c = ClaimsOf(Issue(tenant_));
  int64_t now = clock_.NowSeconds(), skew = tokens_->options().clock_skew_seconds;
  c["exp"] = now - skew + 1;
  ExpectAccepted(SignWithRealKey(c));
  c["exp"] = now - skew;
  ExpectRefused(SignWithRealKey(c), "expired");
  c.erase("exp");
  ExpectRefused(SignWithRealKey(c), "no expiry (exp)");
}

TEST_F(TokenServiceTest, CachedTokensAreRefusedOnceExpired) {
  std::string header = "Bearer " + Issue(tenant_);
  int64_t exp = ClaimsOf(header.substr(7)).at("exp").as_int64();
  ExpectAccepted(header);  // verified, and now cached
  // From here on the cache answers; its expiry check is the same as for a fresh token.
  clock_.Set((exp + tokens_->options().clock_skew_seconds - 1) * 1000);
  ExpectAccepted(header);
  clock_.Advance(1000);
  ExpectRefused(header, "expired");
  clock_.Advance(86400 * 1000LL);
  ExpectRefused(header, "expired");
}

// Correctly signed tokens whose time claims are not NumericDates were answered with HTTP 500
// (Boost.JSON threw). Each is refused, naming the claim.
TEST_F(TokenServiceTest, RefusesMalformedTimeClaimsWithoutThrowing) {
  json::object issued = ClaimsOf(Issue(tenant_));
  std::string now = std::to_string(clock_.NowSeconds());
  const std::vector<std::string> malformed = {
      "\"" + now + "\"",
      "-1",
      "-" + now,
      "1e300",
      "-1e300",
      "1e999",
      "-1e999",
      "9223372036854775807",
      "9223372036854775808",
      "18446744073709551615",
      "18446744073709551616",
      "253402300800",
      "true",
      "null",
      "[]",
      "[" + now + "]",
      "{}",
  };
  for (const char* claim : {"exp", "nbf", "iat"}) {
    json::object c = issued;
    c.erase(claim);
    std::string rest = json::serialize(c);  // {...}: splice the claim in as raw text
    for (const std::string& text : malformed) {
      SCOPED_TRACE(std::string(claim) + " = " + text);
      std::string payload = rest.substr(0, rest.size() - 1) + ",\"" + claim + "\":" + text + "}";
      ExpectRefused(SignRaw(HeaderFor("RS256"), payload),
                    "the token's " + std::string(claim) + " is not a NumericDate");
    }
    // An integral double is a NumericDate.
    std::string payload = rest.substr(0, rest.size() - 1) + ",\"" + claim +
                          "\":" + json::serialize(issued.at(claim)) + ".0}";
    ExpectAccepted(SignRaw(HeaderFor("RS256"), payload));
  }
}

// --- Discovery ----------------------------------------------------------------------------------

std::set<std::string> Strings(const json::value& v) {
  std::set<std::string> out;
  for (const json::value& s : v.as_array()) out.emplace(s.as_string());
  return out;
}

TEST_F(TokenServiceTest, DiscoveryNamesTheTenantsIssuerAndKeys) {
  auto d = tokens_->Discovery(tenant_.tenant.domains[0]);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->at("issuer").as_string(), tokens_->Issuer(tenant_.tenant.id));
  auto jwks = tokens_->Jwks();
  EXPECT_EQ(jwks.at("keys").as_array().size(), 1u);
  EXPECT_FALSE(tokens_->Discovery("nope.example").ok());
}

TEST_F(TokenServiceTest, DiscoveryAdvertisesExactlyWhatTheTokenEndpointServes) {
  auto d = tokens_->Discovery(tenant_.tenant.id);
  ASSERT_TRUE(d.ok());

  // Grant types: every advertised one reaches its grant; every other is refused. The grants of
  // users are run end to end in token_endpoint_test, over the real directory.
  std::set<std::string> grants = Strings(d->at("grant_types_supported"));
  EXPECT_EQ(grants, (std::set<std::string>{"client_credentials", "password", "refresh_token",
                                           "authorization_code",
                                           "urn:ietf:params:oauth:grant-type:device_code"}));
  for (std::string g : {"client_credentials", "authorization_code", "refresh_token", "password",
                        "implicit", "urn:ietf:params:oauth:grant-type:device_code",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                        "urn:ietf:params:oauth:grant-type:saml2-bearer"}) {
    SCOPED_TRACE("grant_type " + g);
    Form form = ClientCredentials(tenant_);
    form[0].second = g;
    auto r = Token(form);
    if (g == "client_credentials") {
      EXPECT_TRUE(std::holds_alternative<json::object>(r)) << std::get<OAuthError>(r).description;
    } else if (grants.count(g)) {
      ASSERT_TRUE(std::holds_alternative<OAuthError>(r));
      EXPECT_NE(std::get<OAuthError>(r).error, "unsupported_grant_type");
    } else {
      ASSERT_TRUE(std::holds_alternative<OAuthError>(r));
      EXPECT_EQ(std::get<OAuthError>(r).error, "unsupported_grant_type");
    }
  }

  // Client authentication: every advertised method is tried (private_key_jwt against the
  // application's certificates, of which this one has none; token_endpoint_test registers one).
  std::set<std::string> methods = Strings(d->at("token_endpoint_auth_methods_supported"));
  EXPECT_EQ(methods, (std::set<std::string>{"client_secret_post", "client_secret_basic",
                                            "private_key_jwt"}));
  EXPECT_TRUE(std::holds_alternative<json::object>(Token(ClientCredentials(tenant_))));
  Form no_secret = ClientCredentials(tenant_);
  no_secret.erase(no_secret.begin() + 2);  // client_secret
  std::string basic = "Basic " + Base64Encode(tenant_.app_id + ":" + tenant_.client_secret);
  Form basic_form = no_secret;
  basic_form.erase(basic_form.begin() + 1);  // client_id
  EXPECT_TRUE(std::holds_alternative<json::object>(Token(basic_form, std::string_view(basic))));
  EXPECT_EQ(TokenError(no_secret).error, "invalid_client") << "none (a public client)";
  Form assertion = no_secret;
  assertion.emplace_back("client_assertion_type",
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
  assertion.emplace_back("client_assertion", Issue(tenant_));
  // An access token is no client assertion: its subject is not the client.
  EXPECT_EQ(TokenError(assertion).error, "invalid_request") << "private_key_jwt";
  assertion.erase(assertion.begin() + 1);  // client_id: the subject names no application
  EXPECT_EQ(TokenError(assertion).error, "unauthorized_client") << "private_key_jwt";

  // Scopes: OpenID Connect's and Graph's .default, which is what client credentials take.
  std::set<std::string> scopes = Strings(d->at("scopes_supported"));
  EXPECT_EQ(scopes, (std::set<std::string>{"openid", "profile", "email", "offline_access",
                                           tokens_->options().graph_resource + "/.default"}));
  for (std::string s : {tokens_->options().graph_resource + "/.default",
                        tokens_->options().graph_app_id + "/.default"}) {
    Form form = ClientCredentials(tenant_);
    form[3].second = s;
    EXPECT_TRUE(std::holds_alternative<json::object>(Token(form))) << s;
  }
  for (std::string s : {"openid", "profile", "email", "offline_access",
                        "https://graph.microsoft.com/.default", "User.Read"}) {
    Form form = ClientCredentials(tenant_);
    form[3].second = s;
    EXPECT_EQ(TokenError(form).error, "invalid_scope") << s;
  }

  // Claims: those of an application's token are among them (a user's: token_endpoint_test).
  json::object claims = ClaimsOf(Issue(tenant_));
  std::set<std::string> supported = Strings(d->at("claims_supported"));
  for (const auto& kv : claims) EXPECT_TRUE(supported.count(kv.key())) << kv.key();

  // A user's sub is pairwise (per application); an application's is its service principal's id.
  EXPECT_EQ(Strings(d->at("subject_types_supported")), std::set<std::string>{"pairwise"});
  EXPECT_EQ(claims.at("sub").as_string(), tenant_.sp_id);

  // The code flow (authorize_endpoint_test runs it): code only, PKCE S256 only, the iss
  // parameter. ID tokens are RS256.
  EXPECT_EQ(Strings(d->at("response_types_supported")), std::set<std::string>{"code"});
  EXPECT_EQ(Strings(d->at("code_challenge_methods_supported")), std::set<std::string>{"S256"});
  EXPECT_EQ(Strings(d->at("response_modes_supported")),
            (std::set<std::string>{"query", "fragment", "form_post"}));
  EXPECT_TRUE(d->at("authorization_response_iss_parameter_supported").as_bool());
  EXPECT_EQ(Strings(d->at("id_token_signing_alg_values_supported")),
            std::set<std::string>{"RS256"});
  EXPECT_EQ(d->at("authorization_endpoint").as_string(),
            "https://localhost:8443/" + tenant_.tenant.id + "/oauth2/v2.0/authorize");
  EXPECT_EQ(d->at("token_endpoint").as_string(),
            "https://localhost:8443/" + tenant_.tenant.id + "/oauth2/v2.0/token");
}

// Against a fake directory: a signing key that cannot be read stops the start-up; the service
// never mints a replacement (which would invalidate every token already issued).
TEST(TokenServiceStart, AnUnreadableSigningKeyStopsTheStartAndMintsNothing) {
  ManualClock clock;
  auto random = NewSeededRandom(3);
  testing::FakeClientDirectory directory(&clock, random.get());
  directory.keys_failure = Internal("a stored token-signing key cannot be decoded");
  TokenService service(&directory, crypto::Kek::Generate(*random),
                       TokenServiceOptions{"https://localhost:8443"});
  Status s = service.Start();
  EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
  EXPECT_TRUE(directory.keys.empty());
  EXPECT_FALSE(service.CheckHealth().ok());
  // A deployment with no key at all gets its first one.
  directory.keys_failure.reset();
  ASSERT_TRUE(service.Start().ok());
  EXPECT_EQ(directory.keys.size(), 1u);
  EXPECT_TRUE(service.CheckHealth().ok());
}

}  // namespace
}  // namespace meridian::auth
