// urn:ietf:params:oauth:grant-type:device_code (RFC 8628): the device polls with its device code
// until the user has answered on the verification page (auth/device_codes.h). Like the password
// grant, off unless the application allows public client flows (isFallbackPublicClient).
#include "auth/device_codes.h"
#include "auth/grant.h"
#include "auth/token_issuer.h"
#include "directory/records.h"

namespace meridian::auth {
namespace {

class DeviceCodeGrant final : public Grant {
 public:
  DeviceCodeGrant(directory::ClientDirectory* directory, TokenIssuer* issuer)
      : codes_(directory, directory->random()), issuer_(issuer) {}
  std::string_view type() const override { return "urn:ietf:params:oauth:grant-type:device_code"; }
  bool public_clients() const override { return true; }

  void Run(std::shared_ptr<const GrantCall> call, TokenDone done) override {
    auto code = call->request.Param("device_code");
    if (!code || code->empty()) {
      return done(OAuthError{400, "invalid_request",
                             "The request body must contain 'device_code'."});
    }
    codes_.Poll(call->ctx, *code, call->client.app_id,
                [this, call, done](Result<DeviceApproval> a) mutable {
                  if (!a.ok()) return done(OAuthErrorOf(a.status()));
                  auto scopes = ParseScopes(a->scope, issuer_->graph());
                  if (!scopes.ok()) return done(OAuthErrorOf(scopes.status()));
                  UserSession session{a->user_id, a->auth_time_ms, a->amr, ""};
                  issuer_->UserTokens(call, std::move(*scopes), std::move(session), std::nullopt,
                                      false, std::move(done));
                });
  }

 private:
  DeviceCodes codes_;
  TokenIssuer* const issuer_;
};

}  // namespace

std::unique_ptr<Grant> NewDeviceCodeGrant(directory::ClientDirectory* directory,
                                          TokenIssuer* issuer) {
  return std::make_unique<DeviceCodeGrant>(directory, issuer);
}

}  // namespace meridian::auth
