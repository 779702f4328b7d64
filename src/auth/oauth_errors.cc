#include "auth/oauth_errors.h"

#include <string_view>

namespace meridian::auth {

OAuthError OAuthErrorOf(const Status& status) {
  const std::string& code = status.graph_code();
  // RFC 6749 section 5.2 and RFC 8628 section 3.5; invalid_client alone is a 401.
  for (std::string_view known :
       {"invalid_request", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
        "invalid_scope", "authorization_pending", "slow_down", "access_denied", "expired_token",
        "interaction_required", "invalid_dpop_proof", "use_dpop_nonce"}) {
    if (code == known) return {400, code, status.message()};
  }
  if (code == "invalid_client") return {401, code, status.message()};
  // Entra's sign-in refusals (AADSTS50126 wrong name or password, 50053 locked, 50057 disabled,
  // 50055 password expired) are invalid_grant, with the AADSTS code first in the description as
  // Entra writes it.
  if (code.rfind("AADSTS", 0) == 0) return {400, "invalid_grant", code + ": " + status.message()};
  if (status.code() == Code::kUnavailable) return {503, "temporarily_unavailable", status.message()};
  return {500, "server_error", status.ToString()};
}

}  // namespace meridian::auth
