// A user's security info (Entra's name for it): the authentication methods a user registered
// beyond the password, and whether the user must use them (per-user MFA, as Entra's
// perUserMfaState: "disabled", "enabled" or "enforced"; either of the last two makes the sign-in
// pages ask for a second factor, and enrol one first when none is registered). Here a TOTP authenticator, whose seed the sign-in code seals under the
// operator's key-encryption key before it reaches the directory (crypto/sealed.h), and recovery
// codes, stored as hashes (crypto/totp.h). Kept in the secret part of the user's record: never
// shown by the Graph API, never named in an audit record.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "directory/records.h"

namespace meridian::directory {

struct SecurityInfo {
  std::string totp_sealed_seed;  // empty: no authenticator registered
  int64_t totp_last_step = 0;    // the last time step a code was accepted for: each works once
  std::vector<std::string> recovery_code_hashes;  // the codes not spent yet
  std::string per_user_mfa_state = "disabled";
  bool mfa_required() const { return per_user_mfa_state != "disabled"; }
};

// The security info in `user`'s record (its secret part), as stored: what the sign-in pages and
// the token service read from the user they already hold, without reading it again.
SecurityInfo SecurityInfoOf(const Object& user);

}  // namespace meridian::directory
