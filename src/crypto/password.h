// Password hashing: PBKDF2-HMAC-SHA256 in a self-describing format,
// "$pbkdf2-sha256$i=<iterations>$<salt b64url>$<hash b64url>", so that the parameters can be
// raised later and old hashes still verify.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::crypto {

inline constexpr int kDefaultPbkdf2Iterations = 600000;  // OWASP's current figure

// Deterministic given the salt: the caller draws the salt before the op is logged, so every
// replica stores the same hash.
std::string HashPassword(std::string_view password, std::string_view salt, int iterations);

// True when `password` matches. InvalidArgument when `encoded` is not a hash this module wrote.
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// True when `encoded` uses fewer iterations than `iterations` (or another algorithm).
bool NeedsRehash(std::string_view encoded, int iterations);

}  // namespace meridian::crypto
