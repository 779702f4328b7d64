// Byte encodings used across modules: base64url (JWS, skip tokens), standard base64, hex,
// big-endian integers (store keys), and ASCII case folding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian {

std::string Base64UrlEncode(std::string_view in);  // no padding (RFC 7515 section 2)
// Accepts input with or without padding; nullopt on any character outside the alphabet.
std::optional<std::string> Base64UrlDecode(std::string_view in);
std::string Base64Encode(std::string_view in);  // standard alphabet, padded
std::optional<std::string> Base64Decode(std::string_view in);
std::string HexEncode(std::string_view in);
// Percent-decodes `in` into *out (replacing its contents, keeping its capacity); with
// `plus_is_space`, '+' decodes to a space (form and query components). False on a malformed
// escape or one that decodes to NUL.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);
// application/x-www-form-urlencoded component decoding: PercentDecode with '+' as a space.
std::optional<std::string> FormUrlDecode(std::string_view in);
// Percent-encodes every byte but RFC 3986's unreserved characters: safe in a query component.
std::string PercentEncode(std::string_view in);

void PutBigEndian64(std::string* out, uint64_t v);
uint64_t GetBigEndian64(std::string_view in);  // requires in.size() >= 8

std::string AsciiLower(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace meridian
