// authorization_code (RFC 6749 section 4.1, with PKCE, RFC 7636): the code the authorization
// endpoint gave the browser after a sign-in is redeemed once (auth/authorization_codes.h), by the
// client it was issued to, at the redirect URI it was issued for, with the verifier of its
// challenge.
#include <algorithm>

#include "auth/authorization_codes.h"
#include "auth/grant.h"
#include "auth/token_issuer.h"
#include "directory/records.h"

namespace meridian::auth {
namespace {

// Whether `uri` is one of the application's web redirect URIs: a code sent there was for a
// confidential client, which must authenticate to redeem it.
bool IsWebRedirect(const directory::Object& app, std::string_view uri) {
  auto* web = app.data.if_contains("web");
  if (!web || !web->is_object()) return false;
  auto uris = directory::Strings(web->get_object(), "redirectUris");
  return std::find(uris.begin(), uris.end(), uri) != uris.end();
}

class AuthorizationCodeGrant final : public Grant {
 public:
  AuthorizationCodeGrant(directory::ClientDirectory* directory, TokenIssuer* issuer)
      : codes_(directory, directory->random()), issuer_(issuer) {}
  std::string_view type() const override { return "authorization_code"; }
  bool public_clients() const override { return true; }

  void Run(std::shared_ptr<const GrantCall> call, TokenDone done) override {
    auto code = call->request.Param("code");
    auto redirect = call->request.Param("redirect_uri");
    if (!code || code->empty() || !redirect) {
      return done(OAuthError{400, "invalid_request",
                             "The request body must contain 'code' and 'redirect_uri'."});
    }
    if (!call->client.confidential() && IsWebRedirect(call->client.client.application, *redirect)) {
      return done(OAuthError{401, "invalid_client",
                             "AADSTS7000218: The request body must contain 'client_secret' or "
                             "'client_assertion': the code was issued to a web application."});
    }
    codes_.Redeem(
        call->ctx, *code, call->client.app_id, *redirect, call->request.Get("code_verifier"),
        [this, call, done](Result<CodeGrant> g) mutable {
          if (!g.ok()) return done(OAuthErrorOf(g.status()));
          if (!call->client.confidential() && g->code_challenge.empty()) {
            return done(OAuthError{400, "invalid_grant",
                                   "A public client's code must be redeemed with PKCE."});
          }
          auto scopes = ParseScopes(g->scope, issuer_->graph());
          if (!scopes.ok()) return done(OAuthErrorOf(scopes.status()));
          UserSession session{g->user_id, g->auth_time_ms, g->amr, g->nonce};
          // The sign-in was logged when it happened, on the sign-in pages.
          issuer_->UserTokens(call, std::move(*scopes), std::move(session), std::nullopt, false,
                              std::move(done));
        });
  }

 private:
  AuthorizationCodes codes_;
  TokenIssuer* const issuer_;
};

}  // namespace

std::unique_ptr<Grant> NewAuthorizationCodeGrant(directory::ClientDirectory* directory,
                                                 TokenIssuer* issuer) {
  return std::make_unique<AuthorizationCodeGrant>(directory, issuer);
}

}  // namespace meridian::auth
