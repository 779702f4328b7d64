// TOTP (RFC 6238): time-based one-time codes over HMAC-SHA1 with 30-second steps and 6 digits,
// what authenticator apps (Microsoft Authenticator, Google Authenticator) use by default; the
// otpauth:// URI they scan from a QR code; and recovery codes. Stateless functions, safe from any
// thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"

namespace meridian::crypto {

inline constexpr int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;

// RFC 4648 base32, upper case, without padding (as otpauth URIs carry secrets); Decode accepts
// either case and ignores '=' padding and spaces, and fails on anything else.
std::string Base32Encode(std::string_view bytes);
std::optional<std::string> Base32Decode(std::string_view text);

// A new shared secret: 20 random bytes (160 bits, RFC 4226's recommendation).
std::string NewTotpSecret(Random& random);

// The code of `secret` (raw bytes) for time step `step` (seconds since the epoch / 30), `digits`
// long with leading zeros (RFC 4226's dynamic truncation).
std::string TotpCode(std::string_view secret, int64_t step, int digits = kTotpDigits);

// The step `code` belongs to, when it is the code of one of the steps within `window` of the step
// of `now_ms` and that step is after `last_used_step` (a code works once: the caller stores the
// step it returns as the new last_used_step). nullopt otherwise. Every candidate is compared in
// constant time.
std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code, int64_t now_ms,
                                  int64_t last_used_step, int window = 1);

// The otpauth:// URI an authenticator app enrols from: the account label "issuer:account", the
// secret in base32, and the parameters above spelled out.
std::string TotpUri(std::string_view issuer, std::string_view account, std::string_view secret);

// `n` recovery codes of 16 base32 characters (80 bits) in groups of four ("ABCD-EFGH-..."), and
// the form each is stored in: RecoveryCodeHash, over the code without dashes or case.
std::vector<std::string> NewRecoveryCodes(Random& random, int n = 10);
std::string RecoveryCodeHash(std::string_view code);

}  // namespace meridian::crypto
