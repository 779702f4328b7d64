// Client secrets (application passwordCredentials): 30 random bytes shown to the caller once as
// 40 URL-safe characters, stored only as "sha256$<base64url digest>".
//
// Why a fast hash here and PBKDF2 for passwords: a slow hash protects guessable, human-chosen
// passwords by making each guess costly. A client secret carries 240 bits of randomness, so a
// stolen digest cannot be reversed by guessing whatever the hash costs; SHA-256 loses nothing and
// keeps the token endpoint's cost in the token signature rather than in the secret check.
// Stateless functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/random.h"

namespace meridian::crypto {

// 40 URL-safe characters (base64url) from 30 bytes of `random`.
std::string GenerateClientSecret(Random& random);

// "sha256$<base64url SHA-256 of secret>".
std::string HashClientSecret(std::string_view secret);

// Whether `secret` hashes to `stored` (the output of HashClientSecret). The digests are compared
// in constant time. False, never an error, for a malformed `stored`.
bool VerifyClientSecret(std::string_view secret, std::string_view stored);

// The first three characters of `secret` (fewer if it is shorter), as Graph's
// passwordCredential.hint.
std::string SecretHint(std::string_view secret);

}  // namespace meridian::crypto
