// The token endpoint's errors: OAuthError is what it answers (RFC 6749 section 5.2), and the
// grants report theirs as Statuses whose graph_code is the RFC 6749 (or RFC 8628) error code.
#pragma once

#include <string>

#include "common/status.h"

namespace meridian::auth {

// An OAuth error response: HTTP status, error code and description.
struct OAuthError {
  int http_status;
  std::string error;
  std::string description;
};

// RFC 6749 section 5.2: the grant (a code, a refresh token, a device code) is invalid, expired,
// revoked, used already or issued to another client.
inline Status InvalidGrant(std::string why) {
  return Status(Code::kUnauthenticated, std::move(why), "invalid_grant");
}

// The response for a grant's or the directory's failure: a graph_code that is an OAuth error
// code (or Entra's AADSTS code, answered as invalid_grant) keeps its message; anything else is a
// server_error whose message is logged, not shown.
OAuthError OAuthErrorOf(const Status& status);

}  // namespace meridian::auth
