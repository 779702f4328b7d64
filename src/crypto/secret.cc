#include "crypto/secret.h"

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr std::string_view kPrefix = "sha256$";
constexpr size_t kSecretBytes = 30;  // 240 bits; a multiple of 3, so 40 characters, no padding

}  // namespace

std::string GenerateClientSecret(Random& random) {
  return Base64UrlEncode(random.Bytes(kSecretBytes));
}

std::string HashClientSecret(std::string_view secret) {
  return std::string(kPrefix) + Base64UrlEncode(Sha256(secret));
}

bool VerifyClientSecret(std::string_view secret, std::string_view stored) {
  // The prefix and length are public (every stored hash has the same ones); only the digest is
  // compared in constant time.
  if (!StartsWith(stored, kPrefix)) return false;
  return ConstantTimeEquals(HashClientSecret(secret), stored);
}

std::string SecretHint(std::string_view secret) { return std::string(secret.substr(0, 3)); }

}  // namespace meridian::crypto
