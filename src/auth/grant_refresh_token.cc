// refresh_token (RFC 6749 section 6): a refresh token is redeemed for new tokens and replaced
// (auth/refresh_tokens.h: rotation, and a reuse revokes the family). The user must still exist
// and be enabled: a refresh does not outlive the account.
#include "auth/grant.h"
#include "auth/token_issuer.h"

namespace meridian::auth {
namespace {

class RefreshTokenGrant final : public Grant {
 public:
  RefreshTokenGrant(directory::ClientDirectory* directory, TokenIssuer* issuer)
      : tokens_(directory, directory->random()), issuer_(issuer) {}
  std::string_view type() const override { return "refresh_token"; }
  bool public_clients() const override { return true; }

  void Run(std::shared_ptr<const GrantCall> call, TokenDone done) override {
    auto token = call->request.Param("refresh_token");
    if (!token || token->empty()) {
      return done(OAuthError{400, "invalid_request",
                             "The request body must contain 'refresh_token'."});
    }
    // An application with credentials is a confidential client: its refresh tokens are
    // redeemed only with them (RFC 6749 section 6), so a stolen token alone is not enough.
    const auto& app = call->client.client.application.data;
    auto has = [&](std::string_view k) {
      auto* v = app.if_contains(k);
      return v && v->is_array() && !v->get_array().empty();
    };
    if (!call->client.confidential() && (has("passwordCredentials") || has("keyCredentials"))) {
      return done(OAuthError{401, "invalid_client",
                             "AADSTS7000218: The request body must contain 'client_secret' or "
                             "'client_assertion': the application is a confidential client."});
    }
    tokens_.Redeem(call->ctx, *token, call->client.app_id,
                   [this, call, done](Result<Redeemed> r) mutable {
                     if (!r.ok()) return done(OAuthErrorOf(r.status()));
                     // The scopes asked now, or the family's; a refresh token always comes back.
                     auto asked = call->request.Param("scope");
                     auto scopes = ParseScopes(asked && !asked->empty() ? *asked : r->family.scope,
                                               issuer_->graph());
                     if (!scopes.ok()) return done(OAuthErrorOf(scopes.status()));
                     scopes->offline_access = true;
                     UserSession session{r->family.user_id, r->family.auth_time_ms,
                                         r->family.amr, ""};
                     issuer_->UserTokens(call, std::move(*scopes), std::move(session),
                                         std::move(r->token), false, std::move(done));
                   });
  }

 private:
  RefreshTokens tokens_;
  TokenIssuer* const issuer_;
};

}  // namespace

std::unique_ptr<Grant> NewRefreshTokenGrant(directory::ClientDirectory* directory,
                                            TokenIssuer* issuer) {
  return std::make_unique<RefreshTokenGrant>(directory, issuer);
}

}  // namespace meridian::auth
