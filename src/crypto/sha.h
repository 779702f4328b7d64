// Hashes and comparisons: SHA-256, HMAC-SHA256 and a constant-time equality test.
#pragma once

#include <string>
#include <string_view>

namespace meridian::crypto {

std::string Sha256(std::string_view data);  // 32 raw bytes
std::string HmacSha256(std::string_view key, std::string_view data);  // 32 raw bytes
// True when equal; the time taken depends only on the lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace meridian::crypto
