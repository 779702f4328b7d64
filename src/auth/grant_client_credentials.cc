// client_credentials (RFC 6749 section 4.4): an application signs in as itself, with a secret or
// a certificate, for "<resource>/.default" alone.
#include "auth/grant.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"

namespace meridian::auth {
namespace {

class ClientCredentialsGrant final : public Grant {
 public:
  explicit ClientCredentialsGrant(TokenIssuer* issuer) : issuer_(issuer) {}
  std::string_view type() const override { return "client_credentials"; }
  bool public_clients() const override { return false; }

  void Run(std::shared_ptr<const GrantCall> call, TokenDone done) override {
    auto scope = call->request.Param("scope");
    if (!scope) return done(OAuthError{400, "invalid_request", "The request body must contain 'scope'."});
    auto parsed = ParseScopes(*scope, issuer_->graph());
    bool only_default = parsed.ok() && parsed->default_scope && parsed->OidcScopes().empty();
    if (!only_default) {
      return done(OAuthError{400, "invalid_scope",
                             "The scope '" + std::string(scope->substr(0, 256)) +
                                 "' is not valid. Client credential flows must request '" +
                                 issuer_->graph().uri + "/.default'."});
    }
    done(issuer_->AppToken(*call, *parsed));
  }

 private:
  TokenIssuer* const issuer_;
};

}  // namespace

std::unique_ptr<Grant> NewClientCredentialsGrant(TokenIssuer* issuer) {
  return std::make_unique<ClientCredentialsGrant>(issuer);
}

}  // namespace meridian::auth
