#include "crypto/secret.h"

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::crypto {

std::string GenerateClientSecret(Random& random) { return Base64UrlEncode(random.Bytes(30)); }

std::string HashClientSecret(std::string_view secret) {
  return "sha256$" + Base64UrlEncode(Sha256(secret));
}

bool VerifyClientSecret(std::string_view secret, std::string_view stored) {
  if (!StartsWith(stored, "sha256$")) return false;
  return ConstantTimeEquals(HashClientSecret(secret), stored);
}

std::string SecretHint(std::string_view secret) { return std::string(secret.substr(0, 3)); }

}  // namespace meridian::crypto
