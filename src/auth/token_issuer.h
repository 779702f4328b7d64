// TokenIssuer: what every grant ends with. It turns a decision (this client, on its own or for
// this user, for these scopes) into the token response: an access token for the scopes'
// resource, an ID token when openid was asked, a refresh token when offline_access was, each
// with Entra's v2.0 claims, signed by the key the schedule says signs now. It also writes each
// attempt's record in the sign-in log.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/grant.h"
#include "auth/refresh_tokens.h"
#include "auth/scopes.h"
#include "common/status.h"

namespace meridian::auth {

class TokenService;

// A user's sign-in that tokens speak for.
struct UserSession {
  std::string user_id;
  int64_t auth_time_ms = 0;
  std::vector<std::string> amr;  // how the user proved it: "pwd", "mfa", "otp", ...
  std::string nonce;             // the authorization request's, for the ID token
};

class TokenIssuer {
 public:
  // All must outlive the issuer.
  TokenIssuer(directory::ClientDirectory* directory, const TokenService* service,
              RefreshTokens* refresh);

  // An application's own token (client credentials): for the Graph resource, `scopes` being
  // "<resource>/.default" alone.
  TokenResult AppToken(const GrantCall& call, const ScopeRequest& scopes) const;

  // A user's tokens. With offline_access a refresh token comes too: `rotated` when the request
  // redeemed one (grant_refresh_token.cc), else a new family. Logs the sign-in (successful)
  // unless `log` is false (a refresh is not a sign-in). Refused, invalid_grant: a session
  // without "mfa" in its amr for a user who must give a second factor (AADSTS50076), and
  // permissions not consented (AADSTS65001, see Scp).
  void UserTokens(std::shared_ptr<const GrantCall> call, ScopeRequest scopes, UserSession session,
                  std::optional<std::string> rotated, bool log, TokenDone done);

  // Logs an attempt: for `user` (null when none was identified) signing in as `login` to the
  // call's client, with `outcome` (ok, or why it failed) and the methods used; `interactive`
  // when on the sign-in pages.
  void LogSignIn(const GrantCall& call, const directory::Object* user, std::string_view login,
                 const Status& outcome, const std::vector<std::string>& amr,
                 bool interactive = false) const;

  // The UserInfo endpoint's claims about `user` for the application `app_id` (its pairwise sub,
  // as the ID tokens give it).
  boost::json::object UserInfo(const directory::Object& user, std::string_view app_id) const;

  // The Graph resource, as scopes name it.
  const GraphResource& graph() const { return graph_; }

  // The scp of a user's token answering `scopes`, given the permissions `granted` to the client
  // for the user: what was requested (ScopeRequest::Requested; all of `granted` for .default)
  // and the OpenID Connect scopes. invalid_grant (AADSTS65001, consent_required) when a requested
  // permission is not granted: consent is given on the sign-in pages.
  static Result<std::string> Scp(const ScopeRequest& scopes, const std::set<std::string>& granted);

 private:
  directory::ClientDirectory* const directory_;
  const TokenService* const service_;
  RefreshTokens* const refresh_;
  const GraphResource graph_;
};

}  // namespace meridian::auth
