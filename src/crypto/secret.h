// Client secrets: generated with 240 bits of randomness, shown once, stored as SHA-256.
// A slow hash (PBKDF2) protects guessable passwords; a secret this random cannot be guessed, so
// a fast hash loses nothing and keeps the token endpoint's cost at the signature.
#pragma once

#include <string>
#include <string_view>

#include "common/random.h"

namespace meridian::crypto {

// 40 URL-safe characters from 30 random bytes.
std::string GenerateClientSecret(Random& random);
// "sha256$<b64url digest>"
std::string HashClientSecret(std::string_view secret);
// Constant-time; false for a malformed stored value.
bool VerifyClientSecret(std::string_view secret, std::string_view stored);
// The first three characters, as Graph's passwordCredential.hint.
std::string SecretHint(std::string_view secret);

}  // namespace meridian::crypto
