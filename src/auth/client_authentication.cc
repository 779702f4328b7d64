#include "auth/client_authentication.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "crypto/certificate_key.h"
#include "crypto/jwt.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

namespace {

constexpr std::string_view kJwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
// An assertion may be valid for at most this long (chosen: MSAL makes ten-minute assertions).
constexpr int64_t kMaxAssertionLifetimeS = 3600;

Status Refuse(std::string code, std::string why) {
  return Status(Code::kUnauthenticated, std::move(why), std::move(code));
}
Status BadRequest(std::string why) {
  return Status(Code::kInvalidArgument, std::move(why), "invalid_request");
}

// The client id and secret of an HTTP Basic header; RFC 6749 section 2.3.1 form-encodes both.
Result<std::pair<std::string, std::string>> ParseBasic(std::string_view h) {
  if (h.size() < 6 || !EqualsIgnoreCase(h.substr(0, 6), "basic ")) {
    return Refuse("invalid_client", "Unsupported client authentication scheme.");
  }
  auto decoded = Base64Decode(h.substr(6));
  size_t colon = decoded ? decoded->find(':') : std::string::npos;
  auto malformed = [] { return Refuse("invalid_client", "Malformed HTTP Basic client credentials."); };
  if (colon == std::string::npos) return malformed();
  auto id = FormUrlDecode(std::string_view(*decoded).substr(0, colon));
  auto pw = FormUrlDecode(std::string_view(*decoded).substr(colon + 1));
  if (!id || !pw) return malformed();
  return std::make_pair(std::move(*id), std::move(*pw));
}

// The payload of a compact JWS read without verifying it, to find whose certificates verify it.
std::optional<json::object> UnverifiedPayload(std::string_view token) {
  if (token.size() > crypto::JwtVerifier::kMaxTokenBytes) return std::nullopt;
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  auto payload = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  if (!payload) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*payload, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

// The certificates of `app` that verify assertions at `now_ms`.
std::vector<crypto::CertificateKey> Certificates(const directory::Object& app, int64_t now_ms) {
  std::vector<crypto::CertificateKey> out;
  auto* creds = app.data.if_contains("keyCredentials");
  if (!creds || !creds->is_array()) return out;
  std::string now = FormatIso8601(now_ms);
  for (const json::value& c : creds->get_array()) {
    if (!c.is_object()) continue;
    const json::object& o = c.get_object();
    if (Str(o, "type") != "AsymmetricX509Cert" || Str(o, "usage") != "Verify") continue;
    std::string start = Str(o, "startDateTime"), end = Str(o, "endDateTime");
    if ((!start.empty() && now < start) || (!end.empty() && now >= end)) continue;
    auto der = Base64Decode(Str(o, "key"));
    if (!der) continue;
    auto key = crypto::CertificateKey::FromDer(*der);
    if (key.ok()) out.push_back(std::move(key).value());
  }
  return out;
}

bool AudienceMatches(const json::value* aud, const std::vector<std::string>& accepted) {
  auto one = [&](const json::value& v) {
    return v.is_string() &&
           std::find(accepted.begin(), accepted.end(), std::string_view(v.get_string())) !=
               accepted.end();
  };
  if (!aud) return false;
  if (aud->is_array()) {
    for (const json::value& v : aud->get_array()) {
      if (one(v)) return true;
    }
    return false;
  }
  return one(*aud);
}

}  // namespace

std::optional<std::string_view> RedirectUriPlatform(const directory::Object& app,
                                                     std::string_view uri) {
  for (std::string_view platform : {"web", "spa", "publicClient"}) {
    auto* p = app.data.if_contains(platform);
    if (!p || !p->is_object()) continue;
    for (const std::string& registered : directory::Strings(p->get_object(), "redirectUris")) {
      if (registered == uri) return platform;
    }
  }
  return std::nullopt;
}

std::optional<std::string_view> TokenRequest::Param(std::string_view name) const {
  for (const auto& [k, v] : form) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

ClientAuthenticator::ClientAuthenticator(directory::ClientDirectory* directory,
                                         AssertionAudiences audiences, int64_t clock_skew_seconds)
    : directory_(directory), audiences_(std::move(audiences)), skew_s_(clock_skew_seconds) {}

void ClientAuthenticator::Authenticate(
    const directory::SecurityContext& ctx, const directory::TenantInfo& tenant,
    const TokenRequest& request, std::function<void(Result<AuthenticatedClient>)> done) const {
  auto form_id = request.Param("client_id");
  auto form_secret = request.Param("client_secret");
  auto assertion = request.Param("client_assertion");
  int methods = (request.authorization ? 1 : 0) + (form_secret ? 1 : 0) + (assertion ? 1 : 0);
  if (methods > 1) return done(BadRequest("Use only one client authentication method."));
  if (assertion) return Assertion(ctx, tenant, request, std::move(done));

  AuthenticatedClient out;
  std::string secret;
  if (request.authorization) {
    auto basic = ParseBasic(*request.authorization);
    if (!basic.ok()) return done(basic.status());
    if (form_id && *form_id != basic->first) {
      return done(BadRequest("client_id does not match the Basic credentials."));
    }
    out.app_id = std::move(basic->first);
    secret = std::move(basic->second);
    out.method = ClientAuthMethod::kSecretBasic;
  } else {
    if (!form_id) return done(BadRequest("The request body must contain 'client_id'."));
    out.app_id = std::string(*form_id);
    if (form_secret) {
      secret = std::string(*form_secret);
      out.method = ClientAuthMethod::kSecretPost;
    }
  }
  if (out.app_id.size() > 64) return done(BadRequest("The client_id is malformed."));
  auto client = out.confidential() ? directory_->AuthenticateClient(ctx, out.app_id, secret)
                                   : directory_->FindClient(ctx, out.app_id);
  if (!client.ok()) return done(client.status());
  out.client = std::move(*client);
  done(std::move(out));
}

void ClientAuthenticator::Assertion(const directory::SecurityContext& ctx,
                                    const directory::TenantInfo& tenant,
                                    const TokenRequest& request,
                                    std::function<void(Result<AuthenticatedClient>)> done) const {
  if (request.Get("client_assertion_type") != kJwtBearer) {
    return done(BadRequest(std::string("client_assertion_type must be '") +
                           std::string(kJwtBearer) + "'."));
  }
  std::string_view token = request.Get("client_assertion");
  auto unverified = UnverifiedPayload(token);
  auto bad = [](std::string why) { return Refuse("invalid_client", "Client assertion: " + why); };
  if (!unverified) return done(bad("not a signed JWT."));
  std::string app_id = Str(*unverified, "sub");
  auto form_id = request.Param("client_id");
  if (form_id && *form_id != app_id) {
    return done(BadRequest("client_id does not match the client assertion's subject."));
  }
  auto client = directory_->FindClient(ctx, app_id);
  if (!client.ok()) return done(client.status());
  int64_t now_ms = directory_->clock()->NowMillis();
  std::vector<crypto::CertificateKey> certs = Certificates(client->application, now_ms);
  std::vector<const crypto::CertificateKey*> keys;
  for (const auto& c : certs) keys.push_back(&c);
  if (keys.empty()) return done(bad("the application has no certificate that is valid now."));
  auto claims = crypto::VerifyWithCertificates(token, keys);
  if (!claims.ok()) return done(bad(claims.status().message()));
  // RFC 7523 section 3: iss and sub are the client; aud is this token endpoint; exp bounds it.
  if (Str(*claims, "iss") != app_id || Str(*claims, "sub") != app_id) {
    return done(bad("iss and sub must both be the client id."));
  }
  if (!AudienceMatches(claims->if_contains("aud"), audiences_(tenant, request))) {
    return done(bad("the audience is not this token endpoint."));
  }
  int64_t now = now_ms / 1000;
  auto times = crypto::CheckTimeClaims(*claims, now, skew_s_);
  if (!times.ok()) return done(bad(times.status().message()));
  int64_t start = times->nbf.value_or(times->iat.value_or(now));
  if (times->exp - start > kMaxAssertionLifetimeS) {
    return done(bad("it is valid for longer than an hour."));
  }
  std::string jti = Str(*claims, "jti");
  if (jti.empty() || jti.size() > 256) return done(bad("it has no jti of at most 256 characters."));
  // Replays: the jti is kept until the assertion expires; of two uses, one finds it kept.
  int64_t keep_until_ms = (times->exp + skew_s_) * 1000;
  auto out = std::make_shared<AuthenticatedClient>();
  out->app_id = app_id;
  out->method = ClientAuthMethod::kPrivateKeyJwt;
  out->client = std::move(*client);
  directory_->UpdateGrant(
      ctx, directory::kClientAssertionGrant, directory::GrantHandle(app_id + "\n" + jti),
      [keep_until_ms](const std::optional<directory::Grant>& current,
                      int64_t) -> Result<directory::GrantChange> {
        if (current) {
          return Refuse("invalid_client", "Client assertion: its jti was used already (a replay).");
        }
        return directory::GrantChange{json::object{{"used", true}}, keep_until_ms};
      },
      [out, done = std::move(done)](Result<directory::Grant> kept) {
        if (!kept.ok()) return done(kept.status());
        done(std::move(*out));
      });
}

}  // namespace meridian::auth
