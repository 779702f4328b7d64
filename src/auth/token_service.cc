#include "auth/token_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <future>
#include <map>
#include <set>
#include <span>

#include "auth/client_authentication.h"
#include "auth/device_codes.h"
#include "auth/pushed_requests.h"
#include "auth/scopes.h"
#include "auth/refresh_tokens.h"
#include "auth/token_issuer.h"
#include "common/clock.h"
#include "common/encoding.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::SecurityContext;

namespace {

// The claims the tokens carry (access tokens, ID tokens), for discovery.
constexpr std::string_view kClaims[] = {
    "aud",    "iss",  "iat",         "nbf",   "exp",   "amr",   "auth_time",
    "azp",    "azpacr", "email",     "family_name", "given_name", "groups", "idtyp",
    "name",   "nonce",  "oid",       "preferred_username", "scp", "sub", "tid",
    "uti",    "ver"};
constexpr std::string_view kClientAuthMethods[] = {"client_secret_post", "client_secret_basic",
                                                   "private_key_jwt"};
constexpr std::string_view kAssertionAlgorithms[] = {"RS256", "PS256", "ES256"};

json::array JsonArray(std::span<const std::string_view> items) {
  json::array a;
  for (std::string_view s : items) a.emplace_back(s);
  return a;
}

// Where a signing key's sealed form belongs (crypto/sealed.h): the deployment's keys live in the
// global partition, so their data key is the global one; the kid binds each to its record.
crypto::SealLabel KeyLabel(const std::string& kid) { return {"signing-key", "global", kid}; }

}  // namespace

// A stored key, opened: its times (the record without its secret) and the key itself.
struct TokenService::Loaded {
  proto::SigningKey times;
  std::shared_ptr<const crypto::SigningKey> key;
  bool plaintext = false;  // stored in clear by an earlier version
};

// What the schedule says for [from_ms, until_ms): the signer, and the published keys as JWKS
// and as the verifier (which holds references of its own to their public halves), shared by
// every request in that window.
struct TokenService::KeyView {
  int64_t from_ms = 0;
  int64_t until_ms = 0;
  std::shared_ptr<const crypto::SigningKey> signer;
  crypto::JwtVerifier verifier = crypto::JwtVerifier::FromSigningKeys({});
  json::object jwks;
};

TokenService::TokenService(directory::ClientDirectory* directory, crypto::Kek kek,
                           TokenServiceOptions options)
    : directory_(directory), kek_(std::move(kek)), options_(std::move(options)) {
  policy_.rotation_period_ms = options_.key_rotation_period_seconds * 1000;
  policy_.publish_ahead_ms = options_.key_publish_ahead_seconds * 1000;
  policy_.retire_after_ms =
      (std::max(options_.access_token_lifetime_seconds, options_.id_token_lifetime_seconds) +
       options_.clock_skew_seconds) *
      1000;
  refresh_ = std::make_unique<RefreshTokens>(directory_, directory_->random());
  issuer_ = std::make_unique<TokenIssuer>(directory_, this, refresh_.get());
  // A client assertion names this token endpoint as its audience, by the tenant's id (as
  // discovery gives it) or as the request's URL named the tenant.
  clients_ = std::make_unique<ClientAuthenticator>(
      directory_,
      [this](const directory::TenantInfo& t, const TokenRequest& r) {
        return std::vector<std::string>{
            options_.public_url + "/" + t.id + "/oauth2/v2.0/token",
            options_.public_url + "/" + r.tenant + "/oauth2/v2.0/token"};
      },
      options_.clock_skew_seconds);
  grants_.push_back(NewClientCredentialsGrant(issuer_.get()));
  grants_.push_back(NewPasswordGrant(directory_, issuer_.get()));
  grants_.push_back(NewRefreshTokenGrant(directory_, issuer_.get()));
  grants_.push_back(NewAuthorizationCodeGrant(directory_, issuer_.get()));
  grants_.push_back(NewDeviceCodeGrant(directory_, issuer_.get()));
  devices_ = std::make_unique<DeviceCodes>(directory_, directory_->random());
}

TokenService::~TokenService() = default;

Status TokenService::Start() {
  MERIDIAN_RETURN_IF_ERROR(CheckKeyPolicy(policy_));
  MERIDIAN_RETURN_IF_ERROR(Refresh());
  return CheckHealth();
}

Status TokenService::Refresh() {
  std::lock_guard refresh(refresh_mu_);
  MERIDIAN_RETURN_IF_ERROR(ReloadLocked());
  SealPlaintextKeysLocked();
  return RotateLocked();
}

Status TokenService::ReloadLocked() const {
  MERIDIAN_ASSIGN_OR_RETURN(std::vector<proto::SigningKey> stored, directory_->SigningKeys());
  std::map<std::string, const Loaded*> loaded;
  {
    std::shared_lock lock(mu_);
    for (const Loaded& l : keys_) loaded[l.times.kid()] = &l;
  }
  std::vector<Loaded> keys;
  for (proto::SigningKey& record : stored) {
    Loaded l;
    l.plaintext = record.sealed_private_key().empty();
    auto known = loaded.find(record.kid());
    if (known != loaded.end()) {
      l.key = known->second->key;  // keys_ changes only under refresh_mu_, which this holds
    } else {
      std::string pem;
      if (!l.plaintext) {
        auto opened = crypto::Open(kek_, KeyLabel(record.kid()), record.sealed_private_key());
        if (!opened.ok()) {
          return Status(opened.status().code(),
                        "token-signing key " + record.kid() + ": " + opened.status().message());
        }
        pem = std::move(opened).value();
      } else if (!record.private_pem().empty()) {
        pem = record.private_pem();
      } else {
        return Internal("token-signing key " + record.kid() + " is stored without its key");
      }
      auto key = crypto::SigningKey::FromPrivatePem(pem);
      crypto::Wipe(pem);
      if (!key.ok() || key->kid() != record.kid()) {
        return Internal("token-signing key " + record.kid() + " does not decode to itself");
      }
      l.key = std::make_shared<const crypto::SigningKey>(std::move(key).value());
    }
    crypto::Wipe(*record.mutable_private_pem());
    record.clear_sealed_private_key();
    l.times = std::move(record);
    keys.push_back(std::move(l));
  }
  std::unique_lock lock(mu_);
  keys_ = std::move(keys);
  view_.reset();
  return Status::Ok();
}

std::string TokenService::SealKey(const crypto::SigningKey& key) const {
  std::string pem = key.PrivatePem();
  std::string sealed = crypto::Seal(kek_, KeyLabel(key.kid()), pem, *directory_->random());
  crypto::Wipe(pem);
  return sealed;
}

void TokenService::SealPlaintextKeysLocked() {
  std::vector<std::pair<std::string, std::shared_ptr<const crypto::SigningKey>>> plaintext;
  {
    std::shared_lock lock(mu_);
    for (const Loaded& l : keys_) {
      if (l.plaintext) plaintext.emplace_back(l.times.kid(), l.key);
    }
  }
  for (const auto& [kid, key] : plaintext) {
    proto::SigningKey seal;
    seal.set_kid(kid);
    seal.set_seals_stored(true);
    seal.set_sealed_private_key(SealKey(*key));
    Status s = directory_->AddSigningKey(seal);
    if (s.ok()) {
      spdlog::info(
          "sealed token-signing key {}, stored in clear by an earlier version, under "
          "key-encryption key {}",
          kid, kek_.IdHex());
      std::unique_lock lock(mu_);
      for (Loaded& l : keys_) {
        if (l.times.kid() == kid) l.plaintext = false;
      }
    } else if (s.code() != Code::kUnavailable) {  // kUnavailable: the global primary seals it
      spdlog::warn("cannot seal token-signing key {}: {}", kid, s.ToString());
    }
  }
}

Status TokenService::RotateLocked() {
  std::vector<proto::SigningKey> times;
  {
    std::shared_lock lock(mu_);
    for (const Loaded& l : keys_) times.push_back(l.times);
  }
  int64_t now = directory_->clock()->NowMillis();
  KeyPlan plan = PlanKeys(times, now, policy_);
  if (!plan.next_key_due_ms || now < *plan.next_key_due_ms) return Status::Ok();

  // RSA key generation takes tens of milliseconds: no lock but refresh_mu_ is held.
  MERIDIAN_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::GenerateRsa2048());
  proto::SigningKey record;
  record.set_kid(key.kid());
  record.set_created_ms(now);
  record.set_signs_from_ms(plan.next_signs_from_ms);
  record.set_follows_kid(times.empty() ? "" : times.back().kid());
  record.set_sealed_private_key(SealKey(key));
  Status s = directory_->AddSigningKey(record);
  if (s.ok()) {
    spdlog::info(
        "new token-signing key {} (sealed under key-encryption key {}): published now, "
        "signs from {}",
        key.kid(), kek_.IdHex(), FormatIso8601(plan.next_signs_from_ms));
    return ReloadLocked();
  }
  if (s.code() == Code::kFailedPrecondition || s.code() == Code::kAlreadyExists) {
    return ReloadLocked();  // another process made the next key first: use it
  }
  // Not the global partition's primary: that node makes the key and a later Refresh loads it.
  // With no key at all there is nothing to sign with yet, and the caller must know.
  if (s.code() == Code::kUnavailable && !times.empty()) return Status::Ok();
  return s;
}

std::shared_ptr<const TokenService::KeyView> TokenService::View(int64_t now_ms) const {
  {
    std::shared_lock lock(mu_);
    if (view_ && view_->from_ms <= now_ms && now_ms < view_->until_ms) return view_;
  }
  std::unique_lock lock(mu_);
  if (view_ && view_->from_ms <= now_ms && now_ms < view_->until_ms) return view_;
  std::vector<proto::SigningKey> times;
  for (const Loaded& l : keys_) times.push_back(l.times);
  KeyPlan plan = PlanKeys(times, now_ms, policy_);
  auto view = std::make_shared<KeyView>();
  view->from_ms = now_ms;
  view->until_ms = plan.changes_at_ms;
  if (plan.signer) view->signer = keys_[*plan.signer].key;
  std::vector<const crypto::SigningKey*> published;
  for (size_t i : plan.published) published.push_back(keys_[i].key.get());
  view->verifier = crypto::JwtVerifier::FromSigningKeys(published);
  view->jwks = crypto::Jwks(published);
  view_ = std::move(view);
  return view_;
}

bool TokenService::ReloadOnMiss(std::string_view kid) const {
  int64_t now = directory_->clock()->NowMillis();
  int64_t last = last_miss_reload_ms_.load();
  if (last != kNever && now >= last && now - last < options_.key_miss_reload_seconds * 1000) {
    return false;
  }
  if (!last_miss_reload_ms_.compare_exchange_strong(last, now)) return false;  // another did
  std::lock_guard refresh(refresh_mu_);
  Status s = ReloadLocked();
  if (!s.ok()) {
    spdlog::warn("reloading the token-signing keys for a token of key {}: {}", kid, s.ToString());
  }
  return s.ok();
}

Status TokenService::CheckHealth() const {
  std::shared_lock lock(mu_);
  if (keys_.empty()) return Status(Code::kUnavailable, "no token-signing key loaded");
  return Status::Ok();
}

std::string TokenService::Issuer(std::string_view tenant_id) const {
  return options_.public_url + "/" + std::string(tenant_id) + "/v2.0";
}

Grant* TokenService::FindGrant(std::string_view grant_type) const {
  // MSAL (msal-node, msal.js) sends the device code grant by its short name, as Entra accepts.
  if (grant_type == "device_code") grant_type = "urn:ietf:params:oauth:grant-type:device_code";
  for (const auto& g : grants_) {
    if (g->type() == grant_type) return g.get();
  }
  return nullptr;
}

void TokenService::Admit(TokenRequest request, TokenDone done,
                         std::function<void(std::shared_ptr<GrantCall>, TokenDone)> then) const {
  std::set<std::string_view> seen;
  for (const auto& [k, v] : request.form) {
    if (!seen.insert(k).second) {
      return done(OAuthError{400, "invalid_request",
                             "The parameter '" + k.substr(0, 64) + "' was given more than once."});
    }
  }
  auto resolved = directory_->ResolveTenant(request.tenant);
  if (!resolved.ok() && resolved.status().code() != Code::kNotFound) {
    return done(OAuthErrorOf(resolved.status()));
  }
  if (!resolved.ok()) {
    return done(OAuthError{400, "invalid_request",
                           "Tenant '" + request.tenant.substr(0, 256) +
                               "' not found. Check the tenant identifier or domain in the token "
                               "endpoint address."});
  }
  auto call = std::make_shared<GrantCall>(GrantCall{
      directory::ContextMint::TokenService(resolved->id).WithCorrelationId(request.request_id),
      std::move(*resolved), std::move(request), {}});
  clients_->Authenticate(
      call->ctx, call->tenant, call->request,
      [this, call, done, then = std::move(then)](Result<AuthenticatedClient> client) mutable {
        if (!client.ok()) {
          issuer_->LogSignIn(*call, nullptr, "", client.status(), {});
          return done(OAuthErrorOf(client.status()));
        }
        call->client = std::move(*client);
        then(std::move(call), std::move(done));
      });
}

void TokenService::Token(TokenRequest request, TokenDone done) const {
  std::string_view grant_type = request.Get("grant_type");
  if (grant_type.empty()) {
    return done(OAuthError{400, "invalid_request", "The request body must contain 'grant_type'."});
  }
  Grant* grant = FindGrant(grant_type);
  if (!grant) {
    return done(OAuthError{400, "unsupported_grant_type",
                           "The grant type '" + std::string(grant_type.substr(0, 128)) +
                               "' is not supported."});
  }
  Admit(std::move(request), std::move(done),
        [grant](std::shared_ptr<GrantCall> call, TokenDone done) {
          if (!call->client.confidential() && !grant->public_clients()) {
            return done(OAuthError{401, "invalid_client",
                                   "AADSTS7000218: The request body must contain 'client_secret' "
                                   "or 'client_assertion'."});
          }
          grant->Run(std::move(call), std::move(done));
        });
}

void TokenService::DeviceAuthorization(TokenRequest request, TokenDone done) const {
  Admit(std::move(request), std::move(done),
        [this](std::shared_ptr<GrantCall> call, TokenDone done) {
          if (!directory::Bool(call->client.client.application.data, "isFallbackPublicClient",
                               false)) {
            return done(OAuthError{400, "unauthorized_client",
                                   "AADSTS7000218: The application does not allow the device code "
                                   "flow (public client flows are off: isFallbackPublicClient)."});
          }
          std::string scope(call->request.Get("scope"));
          auto scopes = ParseScopes(scope, issuer_->graph());
          if (!scopes.ok()) return done(OAuthErrorOf(scopes.status()));
          devices_->Start(
              call->ctx, call->client.app_id, scope,
              [this, call, done](Result<auth::DeviceAuthorization> started) {
                if (!started.ok()) return done(OAuthErrorOf(started.status()));
                std::string page =
                    options_.public_url + "/" + call->tenant.id + "/oauth2/v2.0/devicelogin";
                done(json::object{
                    {"device_code", started->device_code},
                    {"user_code", started->user_code},
                    {"verification_uri", page},
                    {"verification_uri_complete", page + "?user_code=" + started->user_code},
                    {"expires_in", started->expires_in_s},
                    {"interval", started->interval_s},
                    {"message", "To sign in, use a web browser to open the page " + page +
                                    " and enter the code " + started->user_code +
                                    " to authenticate."}});
              });
        });
}

void TokenService::PushAuthorizationRequest(TokenRequest request, TokenDone done) const {
  Admit(std::move(request), std::move(done), [this](std::shared_ptr<GrantCall> call,
                                                    TokenDone done) {
    Params params;
    for (const auto& [k, v] : call->request.form) {
      if (k == "client_secret" || k == "client_assertion" || k == "client_assertion_type") continue;
      if (k == "request_uri" || k == "request") {
        return done(OAuthError{400, "invalid_request",
                               "A pushed request cannot carry '" + k + "' (RFC 9126)."});
      }
      if (k != "client_id") params.emplace_back(k, v);
    }
    params.emplace_back("client_id", call->client.app_id);
    if (!RedirectUriPlatform(call->client.client.application, call->request.Get("redirect_uri"))) {
      return done(OAuthError{400, "invalid_request",
                             "redirect_uri is not one the application registered (it must match "
                             "exactly)."});
    }
    if (call->request.Get("response_type") != "code") {
      return done(
          OAuthError{400, "unsupported_response_type", "Only response_type=code is served."});
    }
    PushRequest(directory_, directory_->random(), call->ctx, call->client.app_id,
                std::move(params), [done](Result<std::string> uri) {
                  if (!uri.ok()) return done(OAuthErrorOf(uri.status()));
                  done(json::object{{"request_uri", *uri},
                                    {"expires_in", kPushedRequestLifetimeMs / 1000}});
                });
  });
}

TokenResult TokenService::Token(std::string_view tenant,
                                const std::vector<std::pair<std::string, std::string>>& form,
                                std::optional<std::string_view> basic_auth) const {
  TokenRequest request;
  request.tenant = std::string(tenant);
  request.form = form;
  if (basic_auth) request.authorization = std::string(*basic_auth);
  std::promise<TokenResult> answered;
  auto answer = answered.get_future();
  Token(std::move(request), [&answered](TokenResult r) { answered.set_value(std::move(r)); });
  return answer.get();
}

Result<std::pair<directory::TenantInfo, directory::SecurityContext>> TokenService::TenantContext(
    std::string_view tenant, std::string request_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(directory::TenantInfo t, directory_->ResolveTenant(tenant));
  auto ctx = directory::ContextMint::TokenService(t.id).WithCorrelationId(std::move(request_id));
  return std::make_pair(std::move(t), std::move(ctx));
}

Result<std::string> TokenService::Sign(const json::object& claims) const {
  std::shared_ptr<const KeyView> keys = View(directory_->clock()->NowMillis());
  if (!keys->signer) return Internal("no token-signing key is loaded");
  return crypto::SignJwt(*keys->signer, claims);
}

std::vector<std::string> TokenService::Scopes() const {
  return {"openid", "profile", "email", "offline_access", options_.graph_resource + "/.default"};
}

Result<json::object> TokenService::Discovery(std::string_view tenant) const {
  MERIDIAN_ASSIGN_OR_RETURN(auto t, directory_->ResolveTenant(tenant));
  std::string base = options_.public_url + "/" + t.id;
  json::array scopes;
  for (std::string& s : Scopes()) scopes.emplace_back(std::move(s));
  json::array grant_types;
  for (const auto& g : grants_) grant_types.emplace_back(g->type());
  // Only what is served (auth/sign_in_pages.h: the code flow with PKCE S256, by redirect or
  // form post, with the iss parameter). `sub` is pairwise for users (per application) and the
  // service principal's id for applications; Entra publishes "pairwise".
  return json::object{
      {"issuer", Issuer(t.id)},
      {"token_endpoint", base + "/oauth2/v2.0/token"},
      {"authorization_endpoint", base + "/oauth2/v2.0/authorize"},
      {"device_authorization_endpoint", base + "/oauth2/v2.0/devicecode"},
      {"pushed_authorization_request_endpoint", base + "/oauth2/v2.0/par"},
      {"jwks_uri", base + "/discovery/v2.0/keys"},
      {"userinfo_endpoint", options_.public_url + "/oidc/userinfo"},
      {"end_session_endpoint", base + "/oauth2/v2.0/logout"},
      {"response_types_supported", json::array{"code"}},
      {"response_modes_supported", json::array{"query", "fragment", "form_post"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"authorization_response_iss_parameter_supported", true},
      {"grant_types_supported", std::move(grant_types)},
      {"subject_types_supported", json::array{"pairwise"}},
      {"id_token_signing_alg_values_supported", json::array{"RS256"}},
      {"token_endpoint_auth_methods_supported", JsonArray(kClientAuthMethods)},
      {"token_endpoint_auth_signing_alg_values_supported", JsonArray(kAssertionAlgorithms)},
      {"scopes_supported", std::move(scopes)},
      {"claims_supported", JsonArray(kClaims)},
      {"tenant_region_scope", t.region},
      {"cloud_instance_name", directory_->cloud()},
  };
}

json::object TokenService::Jwks() const { return View(directory_->clock()->NowMillis())->jwks; }

std::string TokenService::SigningKid() const {
  auto keys = View(directory_->clock()->NowMillis());
  return keys->signer ? keys->signer->kid() : "";
}

Result<SecurityContext> TokenService::Authenticate(std::string_view header) const {
  MERIDIAN_ASSIGN_OR_RETURN(Verified v, Verify(header));
  return v.ctx;
}

Result<TokenService::Verified> TokenService::Verify(std::string_view header) const {
  auto fail = [](std::string m) {
    return Status(Code::kUnauthenticated, std::move(m), "InvalidAuthenticationToken");
  };
  if (header.size() < 7 || !EqualsIgnoreCase(header.substr(0, 7), "bearer ")) {
    return fail("Access token is empty.");
  }
  std::string_view token = header.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  if (token.empty() || token.size() > 16384) return fail("Access token is empty or too large.");
  int64_t now = directory_->clock()->NowSeconds();
  if (auto hit = verified_.Get(token)) {
    if (hit->exp > now - options_.clock_skew_seconds) return *hit;
    return fail("Lifetime validation failed, the token is expired.");
  }
  std::shared_ptr<const KeyView> keys = View(directory_->clock()->NowMillis());
  Result<json::object> claims = keys->verifier.Verify(token);
  if (!claims.ok()) {
    // A key another process made may not be loaded here yet.
    std::optional<std::string> kid = crypto::UnverifiedKid(token);
    if (kid && !keys->verifier.Has(*kid) && ReloadOnMiss(*kid)) {
      claims = View(directory_->clock()->NowMillis())->verifier.Verify(token);
    }
  }
  if (!claims.ok()) return fail(claims.status().message());
  Result<crypto::TimeClaims> times =
      crypto::CheckTimeClaims(*claims, now, options_.clock_skew_seconds);
  if (!times.ok()) return fail(times.status().message());
  auto str = [&](std::string_view k) -> std::string {
    auto* v = claims->if_contains(k);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  if (str("aud") != options_.graph_resource) {
    return fail("Invalid audience: the token is not for " + options_.graph_resource + ".");
  }
  std::string tid = str("tid");
  if (!IsUuid(tid)) return fail("Invalid issuer: the token has no tenant id (tid).");
  if (str("iss") != Issuer(tid)) {
    return fail("Invalid issuer: the token's iss is not the issuer of its tenant.");
  }
  std::string oid = str("oid");
  if (!IsUuid(oid)) return fail("The token has no object id.");
  SecurityContext::Kind kind = str("idtyp") == "app" ? SecurityContext::Kind::kServicePrincipal
                                                     : SecurityContext::Kind::kUser;
  Verified v{directory::ContextMint::Principal(tid, oid, kind, str("azp"), str("azp")),
             times->exp, str("scp")};
  verified_.Put(token, v);
  return v;
}

Result<std::set<std::string>> TokenService::DelegatedScopes(std::string_view header) const {
  MERIDIAN_ASSIGN_OR_RETURN(Verified v, Verify(header));
  std::set<std::string> out;
  for (size_t pos = 0; pos < v.scp.size();) {
    size_t end = std::min(v.scp.find(' ', pos), v.scp.size());
    if (end > pos) out.insert(v.scp.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

Result<json::object> TokenService::IdTokenHint(std::string_view tenant_id,
                                              std::string_view token) const {
  MERIDIAN_ASSIGN_OR_RETURN(json::object claims,
                            View(directory_->clock()->NowMillis())->verifier.Verify(token));
  auto* iss = claims.if_contains("iss");
  if (!iss || !iss->is_string() || iss->get_string() != Issuer(tenant_id)) {
    return Unauthenticated("The token was not issued for this tenant.");
  }
  return claims;
}

Result<json::object> TokenService::UserInfo(std::string_view authorization_header) const {
  MERIDIAN_ASSIGN_OR_RETURN(Verified v, Verify(authorization_header));
  auto refuse = [](std::string why) {
    return Status(Code::kUnauthenticated, std::move(why), "invalid_token");
  };
  if (v.ctx.kind() != SecurityContext::Kind::kUser) {
    return refuse("The userinfo endpoint answers for a user's token, not an application's.");
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::set<std::string> scopes, DelegatedScopes(authorization_header));
  bool openid = scopes.count("openid") > 0;
  if (!openid) return refuse("The token was not issued with the openid scope.");
  auto user = directory_->FindUser(
      directory::ContextMint::TokenService(v.ctx.tenant_id()), v.ctx.principal_id());
  if (!user.ok()) return refuse("The user no longer signs in.");
  return issuer_->UserInfo(user->user, v.ctx.app_id());
}

}  // namespace meridian::auth
