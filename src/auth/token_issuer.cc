#include "auth/token_issuer.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/first_party.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

namespace {

// azpacr: how the client authenticated (0 public, 1 secret, 2 certificate).
std::string_view AuthContextOf(ClientAuthMethod m) {
  switch (m) {
    case ClientAuthMethod::kNone:
      return "0";
    case ClientAuthMethod::kSecretPost:
    case ClientAuthMethod::kSecretBasic:
      return "1";
    case ClientAuthMethod::kPrivateKeyJwt:
      return "2";
  }
  return "0";
}

// Entra's sub is pairwise: the same user has a different subject in each application, so two
// applications cannot correlate users by it (oid is the id that is the same everywhere).
std::string PairwiseSubject(std::string_view user_id, std::string_view app_id) {
  return Base64UrlEncode(crypto::Sha256(std::string(user_id) + "\n" + std::string(app_id)));
}

json::array Array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

// The numeric code of a refusal, as Graph's signIn.status.errorCode gives it.
int64_t ErrorCodeOf(const Status& s) {
  if (s.ok()) return 0;
  const std::string& code = s.graph_code();
  if (code.rfind("AADSTS", 0) == 0) {
    int64_t n = 0;
    for (char c : code.substr(6)) {
      if (c < '0' || c > '9') break;
      n = n * 10 + (c - '0');
    }
    return n;
  }
  if (code == "invalid_client") return 7000215;
  if (code == "unauthorized_client") return 700016;
  return 70000;  // invalid_grant and the rest
}

}  // namespace

TokenIssuer::TokenIssuer(directory::ClientDirectory* directory, const TokenService* service,
                         RefreshTokens* refresh)
    : directory_(directory),
      service_(service),
      refresh_(refresh),
      graph_{service->options().graph_resource, service->options().graph_app_id} {}

Result<std::string> TokenIssuer::Scp(const ScopeRequest& scopes,
                                     const std::set<std::string>& granted) {
  std::vector<std::string> permissions = scopes.Requested();
  if (scopes.default_scope) permissions.assign(granted.begin(), granted.end());
  std::string out, missing;
  for (const std::string& p : permissions) {
    std::string& to = granted.count(p) ? out : missing;
    to += (to.empty() ? "" : " ") + p;
  }
  if (!missing.empty()) {
    return Status(Code::kUnauthenticated,
                  "The user or administrator has not consented to use the application for: " +
                      missing + ". Send an interactive authorization request for this user.",
                  "AADSTS65001");
  }
  std::string oidc = scopes.OidcScopes();
  return out.empty() || oidc.empty() ? out + oidc : out + " " + oidc;
}

TokenResult TokenIssuer::AppToken(const GrantCall& call, const ScopeRequest& scopes) const {
  const TokenServiceOptions& o = service_->options();
  // No role claims: the Graph gate reads role assignments from the directory on every write, so
  // a revoked role stops working at once instead of when the token expires.
  int64_t now = directory_->clock()->NowSeconds();
  const auto& sp = call.client.client.service_principal;
  json::object claims{
      {"aud", scopes.resource},
      {"iss", service_->Issuer(call.tenant.id)},
      {"iat", now},
      {"nbf", now},
      {"exp", now + o.access_token_lifetime_seconds},
      {"azp", call.client.app_id},
      {"azpacr", AuthContextOf(call.client.method)},
      {"idtyp", "app"},
      {"oid", sp.id},
      {"sub", sp.id},
      {"tid", call.tenant.id},
      {"uti", Base64UrlEncode(directory_->random()->Bytes(16))},
      {"ver", "2.0"},
  };
  Result<std::string> token = service_->Sign(claims);
  if (!token.ok()) return OAuthErrorOf(token.status());
  LogSignIn(call, nullptr, "", Status::Ok(), {});
  return json::object{{"token_type", "Bearer"},
                      {"expires_in", o.access_token_lifetime_seconds},
                      {"ext_expires_in", o.access_token_lifetime_seconds},
                      {"access_token", std::move(token).value()}};
}

void TokenIssuer::UserTokens(std::shared_ptr<const GrantCall> call, ScopeRequest scopes,
                             UserSession session, std::optional<std::string> rotated, bool log,
                             TokenDone done) {
  auto user = directory_->FindUser(call->ctx, session.user_id);
  if (!user.ok()) return done(OAuthErrorOf(user.status()));
  const TokenServiceOptions& o = service_->options();
  const json::object& u = user->user.data;
  int64_t now = directory_->clock()->NowSeconds();
  std::string sub = PairwiseSubject(user->user.id, call->client.app_id);
  // A sign-in of one factor (a password grant, a refresh token from one) does not serve a user
  // who must give two: an authenticator registered, or per-user MFA on since.
  if (std::find(session.amr.begin(), session.amr.end(), "mfa") == session.amr.end()) {
    directory::SecurityInfo info = directory::SecurityInfoOf(user->user);
    if (info.mfa_required() || !info.totp_sealed_seed.empty()) {
      Status mfa(Code::kUnauthenticated,
                 "The user must use multi-factor authentication; sign in interactively.",
                 "AADSTS50076");
      if (log) LogSignIn(*call, &user->user, Str(u, "userPrincipalName"), mfa, session.amr);
      return done(OAuthErrorOf(mfa));
    }
  }
  auto granted = directory_->GrantedScopes(
      call->ctx, call->client.client.service_principal.id, directory::kGraphAppId, user->user.id);
  if (!granted.ok()) return done(OAuthErrorOf(granted.status()));
  auto scp = Scp(scopes, *granted);
  if (!scp.ok()) {
    if (log) LogSignIn(*call, &user->user, Str(u, "userPrincipalName"), scp.status(), session.amr);
    return done(OAuthErrorOf(scp.status()));
  }
  std::string upn = Str(u, "userPrincipalName");
  json::object access{
      {"aud", scopes.resource.empty() ? o.graph_resource : scopes.resource},
      {"iss", service_->Issuer(call->tenant.id)},
      {"iat", now},
      {"nbf", now},
      {"exp", now + o.access_token_lifetime_seconds},
      {"amr", Array(session.amr)},
      {"azp", call->client.app_id},
      {"azpacr", AuthContextOf(call->client.method)},
      {"name", Str(u, "displayName")},
      {"oid", user->user.id},
      {"preferred_username", upn},
      {"scp", *scp},
      {"sub", sub},
      {"tid", call->tenant.id},
      {"uti", Base64UrlEncode(directory_->random()->Bytes(16))},
      {"ver", "2.0"},
  };
  // Groups, when the application asks for them (groupMembershipClaims), up to Entra's limit;
  // past it, the overage claims point at where to read them instead.
  std::string wanted = Str(call->client.client.application.data, "groupMembershipClaims");
  if (wanted == "SecurityGroup" || wanted == "All") {
    if (user->group_ids.size() <= directory::kMaxTokenGroups) {
      access["groups"] = Array(user->group_ids);
    } else {
      access["_claim_names"] = json::object{{"groups", "src1"}};
      access["_claim_sources"] = json::object{
          {"src1", json::object{{"endpoint", o.public_url + "/v1.0/users/" + user->user.id +
                                                 "/transitiveMemberOf"}}}};
    }
  }
  auto access_token = service_->Sign(access);
  if (!access_token.ok()) return done(OAuthErrorOf(access_token.status()));
  json::object response{{"token_type", "Bearer"},
                        {"scope", *scp},
                        {"expires_in", o.access_token_lifetime_seconds},
                        {"ext_expires_in", o.access_token_lifetime_seconds},
                        {"access_token", std::move(access_token).value()}};
  if (scopes.openid) {
    json::object id{
        {"aud", call->client.app_id},
        {"iss", service_->Issuer(call->tenant.id)},
        {"iat", now},
        {"nbf", now},
        {"exp", now + o.id_token_lifetime_seconds},
        {"auth_time", session.auth_time_ms / 1000},
        {"amr", Array(session.amr)},
        {"oid", user->user.id},
        {"sub", sub},
        {"tid", call->tenant.id},
        {"uti", Base64UrlEncode(directory_->random()->Bytes(16))},
        {"ver", "2.0"},
    };
    if (!session.nonce.empty()) id["nonce"] = session.nonce;
    if (scopes.profile) {
      id["name"] = Str(u, "displayName");
      id["preferred_username"] = upn;
    }
    if (scopes.email && !Str(u, "mail").empty()) id["email"] = Str(u, "mail");
    auto id_token = service_->Sign(id);
    if (!id_token.ok()) return done(OAuthErrorOf(id_token.status()));
    response["id_token"] = std::move(id_token).value();
  }
  // MSAL builds its account from client_info (base64url {"uid","utid"}), as Entra sends it.
  if (call->request.Get("client_info") == "1") {
    response["client_info"] = Base64UrlEncode(json::serialize(
        json::object{{"uid", user->user.id}, {"utid", call->tenant.id}}));
  }
  if (log) LogSignIn(*call, &user->user, upn, Status::Ok(), session.amr);
  if (!scopes.offline_access) return done(std::move(response));
  if (rotated) {
    response["refresh_token"] = std::move(*rotated);
    return done(std::move(response));
  }
  RefreshFamily family{user->user.id, call->client.app_id, *scp, session.auth_time_ms,
                       session.amr};
  refresh_->Issue(call->ctx, family,
                  [response = std::move(response), done](Result<std::string> token) mutable {
                    if (!token.ok()) return done(OAuthErrorOf(token.status()));
                    response["refresh_token"] = std::move(*token);
                    done(std::move(response));
                  });
}

void TokenIssuer::LogSignIn(const GrantCall& call, const directory::Object* user,
                            std::string_view login, const Status& outcome,
                            const std::vector<std::string>& amr, bool interactive) const {
  const auto& app = call.client.client.application;
  json::object status{{"errorCode", ErrorCodeOf(outcome)}};
  if (!outcome.ok()) status["failureReason"] = outcome.message();
  bool mfa = std::find(amr.begin(), amr.end(), "mfa") != amr.end();
  json::object record{
      {"appId", call.client.app_id},
      {"appDisplayName", Str(app.data, "displayName")},
      {"ipAddress", call.request.client_ip},
      {"userAgent", call.request.user_agent},
      {"clientAppUsed", interactive ? "Browser" : "Mobile Apps and Desktop clients"},
      {"correlationId", call.request.request_id},
      {"isInteractive", interactive},
      {"authenticationMethodsUsed", Array(amr)},
      {"authenticationRequirement",
       mfa ? "multiFactorAuthentication" : "singleFactorAuthentication"},
      {"status", std::move(status)},
  };
  if (user) {
    record["userId"] = user->id;
    record["userDisplayName"] = Str(user->data, "displayName");
    record["userPrincipalName"] = Str(user->data, "userPrincipalName");
  } else if (!login.empty()) {
    record["userPrincipalName"] = std::string(login.substr(0, 256));
  } else {
    record["servicePrincipalId"] = call.client.client.service_principal.id;
  }
  std::string rid = call.request.request_id;
  directory_->RecordSignIn(call.ctx, std::move(record),
                           [rid](Result<directory::WriteResult> r) {
                             if (!r.ok()) {
                               spdlog::warn("request {}: the sign-in log refused a record: {}",
                                            rid, r.status().ToString());
                             }
                           });
}

json::object TokenIssuer::UserInfo(const directory::Object& user, std::string_view app_id) const {
  const json::object& u = user.data;
  json::object out{{"sub", PairwiseSubject(user.id, app_id)},
                   {"name", Str(u, "displayName")},
                   {"preferred_username", Str(u, "userPrincipalName")}};
  for (auto [claim, property] : {std::pair{"given_name", "givenName"},
                                 std::pair{"family_name", "surname"}, std::pair{"email", "mail"}}) {
    if (!Str(u, property).empty()) out[claim] = Str(u, property);
  }
  return out;
}

}  // namespace meridian::auth
