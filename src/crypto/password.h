// Password hashing: PBKDF2-HMAC-SHA256 (RFC 8018) in a self-describing format,
//   $pbkdf2-sha256$i=<iterations>$<salt base64url>$<hash base64url>
// so that the work factor can be raised later while old hashes still verify (NeedsRehash tells
// when to re-hash at the next successful sign-in). Stateless functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::crypto {

// OWASP's current recommendation for PBKDF2-HMAC-SHA256.
inline constexpr int kDefaultPbkdf2Iterations = 600000;
// The most iterations this module will compute, so that a corrupted or hostile stored hash cannot
// make one verification run for minutes. HashPassword clamps to [1, kMaxPbkdf2Iterations].
inline constexpr int kMaxPbkdf2Iterations = 20'000'000;

// The encoded hash of `password` with `salt` (raw bytes; draw 16 from Random) and `iterations`.
// Deterministic given the salt: the caller draws the salt before the op is logged, so every
// replica applying the op stores the same hash. `iterations` outside [1, kMaxPbkdf2Iterations]
// is clamped, and the value actually used is what the encoding records. Cannot fail.
std::string HashPassword(std::string_view password, std::string_view salt, int iterations);

// Whether `password` matches `encoded`, compared in constant time. InvalidArgument when `encoded`
// is not in the format above (unknown algorithm, bad iteration count, non-canonical base64url,
// hash not 32 bytes).
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// True when `encoded` should be replaced by a fresh hash: it uses fewer than `iterations`
// iterations, or it is not a hash in the format above.
bool NeedsRehash(std::string_view encoded, int iterations);

}  // namespace meridian::crypto
