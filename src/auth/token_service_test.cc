#include "auth/token_service.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/schema.h"

namespace meridian::auth {
namespace {
namespace json = boost::json;
using Form = std::vector<std::pair<std::string, std::string>>;

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
  Form ClientCredentials(const directory::NewTenant& t) {
    return {{"grant_type", "client_credentials"},
            {"client_id", t.app_id},
            {"client_secret", t.client_secret},
            {"scope", tokens_->options().graph_resource + "/.default"}};
  }
  TokenService::TokenResult Token(const Form& form,
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
      real_key_.emplace(
          std::move(crypto::SigningKey::FromPrivatePem(stored->back().private_pem())).value());
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
    auto r = directory_->Update(directory::SecurityContext::ForOperator(tenant_.tenant.id),
                                *directory::FindType("servicePrincipal"), tenant_.sp_id,
                                {{"accountEnabled", enabled}}, std::nullopt);
    return r.ok() ? Status::Ok() : r.status();
  }

  std::string dir_;
  ManualClock clock_;
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

// --- Authenticate ------------------------------------------------------------------------------

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

// Correctly signed tokens whose time claims are not NumericDates were answered with HTTP 500
// (Boost.JSON threw). Each is refused, naming the claim.
TEST_F(TokenServiceTest, RefusesMalformedTimeClaimsWithoutThrowing) {
  json::object issued = ClaimsOf(Issue(tenant_));
  std::string now = std::to_string(clock_.NowSeconds());
  const std::vector<std::string> malformed = {
      "\"" + now + "\"",
      now + ".5",
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
