// password (RFC 6749 section 4.3, "resource owner password credentials"): the client collects the
// user's name and password and sends them. Off for every application unless it allows public
// client flows (isFallbackPublicClient), as in Entra: a password grant skips every interactive
// check, so an administrator opts an application in. A user who must give a second factor (an
// authenticator registered, or per-user MFA on) is refused with AADSTS50076.
#include "auth/grant.h"
#include "auth/token_issuer.h"
#include "directory/records.h"

namespace meridian::auth {
namespace {

class PasswordGrant final : public Grant {
 public:
  PasswordGrant(directory::ClientDirectory* directory, TokenIssuer* issuer)
      : directory_(directory), issuer_(issuer) {}
  std::string_view type() const override { return "password"; }
  bool public_clients() const override { return true; }

  void Run(std::shared_ptr<const GrantCall> call, TokenDone done) override {
    const auto& app = call->client.client.application.data;
    if (!directory::Bool(app, "isFallbackPublicClient", false)) {
      return done(OAuthError{400, "unauthorized_client",
                             "AADSTS7000218: The application does not allow the password grant "
                             "(public client flows are off: isFallbackPublicClient)."});
    }
    auto username = call->request.Param("username");
    auto password = call->request.Param("password");
    if (!username || !password || username->empty()) {
      return done(OAuthError{400, "invalid_request",
                             "The request body must contain 'username' and 'password'."});
    }
    if (username->size() > 256 || password->size() > 256) {
      return done(OAuthError{400, "invalid_request", "The username or password is too long."});
    }
    auto scopes = ParseScopes(call->request.Get("scope"), issuer_->graph());
    if (!scopes.ok()) return done(OAuthErrorOf(scopes.status()));
    std::string login(*username);
    int64_t started_ms = directory_->clock()->NowMillis();
    directory_->SignInWithPassword(
        call->ctx, login, *password,
        [this, call, login, scopes = std::move(*scopes), started_ms,
         done](Result<directory::PasswordSignIn> in) mutable {
          if (!in.ok()) {
            issuer_->LogSignIn(*call, nullptr, login, in.status(), {});
            return done(OAuthErrorOf(in.status()));
          }
          if (in->must_change_password) {
            // Only an interactive sign-in can change it (the sign-in pages).
            Status expired(Code::kUnauthenticated,
                           "The password must be changed at the next interactive sign-in.",
                           "AADSTS50055");
            issuer_->LogSignIn(*call, &in->user, login, expired, {"pwd"});
            return done(OAuthErrorOf(expired));
          }
          // One factor: a user who must give two is refused by UserTokens (AADSTS50076).
          UserSession session{in->user.id, started_ms, {"pwd"}, ""};
          issuer_->UserTokens(call, std::move(scopes), std::move(session), std::nullopt, true,
                              std::move(done));
        });
  }

 private:
  directory::ClientDirectory* const directory_;
  TokenIssuer* const issuer_;
};

}  // namespace

std::unique_ptr<Grant> NewPasswordGrant(directory::ClientDirectory* directory,
                                        TokenIssuer* issuer) {
  return std::make_unique<PasswordGrant>(directory, issuer);
}

}  // namespace meridian::auth
