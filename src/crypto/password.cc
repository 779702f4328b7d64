#include "crypto/password.h"

#include <openssl/evp.h>

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr std::string_view kPrefix = "$pbkdf2-sha256$i=";
constexpr int kHashBytes = 32;

std::string Derive(std::string_view password, std::string_view salt, int iterations) {
  std::string out(kHashBytes, '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, EVP_sha256(), kHashBytes,
                    reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

struct Parsed {
  int iterations;
  std::string salt, hash;
};

std::optional<Parsed> Parse(std::string_view encoded) {
  if (!StartsWith(encoded, kPrefix)) return std::nullopt;
  std::string_view rest = encoded.substr(kPrefix.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos || d1 == 0 || d1 > 9) return std::nullopt;
  int iterations = 0;
  for (char c : rest.substr(0, d1)) {
    if (c < '0' || c > '9') return std::nullopt;
    iterations = iterations * 10 + (c - '0');
  }
  if (iterations < 1) return std::nullopt;
  rest = rest.substr(d1 + 1);
  size_t d2 = rest.find('$');
  if (d2 == std::string_view::npos) return std::nullopt;
  auto salt = Base64UrlDecode(rest.substr(0, d2));
  auto hash = Base64UrlDecode(rest.substr(d2 + 1));
  if (!salt || !hash || salt->empty() || hash->size() != kHashBytes) return std::nullopt;
  return Parsed{iterations, std::move(*salt), std::move(*hash)};
}

}  // namespace

std::string HashPassword(std::string_view password, std::string_view salt, int iterations) {
  return std::string(kPrefix) + std::to_string(iterations) + "$" + Base64UrlEncode(salt) + "$" +
         Base64UrlEncode(Derive(password, salt, iterations));
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  auto p = Parse(encoded);
  if (!p) return InvalidArgument("not a PBKDF2-SHA256 password hash");
  return ConstantTimeEquals(Derive(password, p->salt, p->iterations), p->hash);
}

bool NeedsRehash(std::string_view encoded, int iterations) {
  auto p = Parse(encoded);
  return !p || p->iterations < iterations;
}

}  // namespace meridian::crypto
