// Hashes and comparisons: SHA-256, HMAC-SHA256 and a constant-time equality test. Stateless
// functions, safe to call from any thread. They cannot fail on valid input; an OpenSSL failure
// (allocation exhausted, SHA-256 unavailable) aborts the process.
#pragma once

#include <string>
#include <string_view>

namespace meridian::crypto {

// The 32-byte SHA-256 digest of `data` (raw bytes, not hex).
std::string Sha256(std::string_view data);

// The 32-byte HMAC-SHA256 of `data` under `key` (RFC 2104; any key length).
std::string HmacSha256(std::string_view key, std::string_view data);

// True when `a` and `b` are equal. Strings of different lengths compare unequal without their
// contents being read; for equal lengths the time taken does not depend on the contents
// (CRYPTO_memcmp). Compare fixed-length values (digests, MACs) so that the length is not secret.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace meridian::crypto
