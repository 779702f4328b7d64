// The errors the token endpoint's grants share, as Statuses whose graph_code is the RFC 6749
// error code the endpoint answers with.
#pragma once

#include <string>

#include "common/status.h"

namespace meridian::auth {

// RFC 6749 section 5.2: the grant (a code, a refresh token, a device code) is invalid, expired,
// revoked, used already or issued to another client.
inline Status InvalidGrant(std::string why) {
  return Status(Code::kUnauthenticated, std::move(why), "invalid_grant");
}

}  // namespace meridian::auth
