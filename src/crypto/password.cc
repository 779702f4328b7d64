#include "crypto/password.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr std::string_view kPrefix = "$pbkdf2-sha256$i=";
constexpr size_t kHashBytes = 32;

struct KdfDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

const EVP_KDF* Pbkdf2() {
  static const EVP_KDF* const kdf = [] {
    EVP_KDF* fetched = EVP_KDF_fetch(nullptr, "PBKDF2", nullptr);
    if (!fetched) internal::OpenSslFatal("EVP_KDF_fetch(PBKDF2)");
    return fetched;  // lives as long as the process
  }();
  return kdf;
}

// A pointer for OSSL_PARAM (never null, even for an empty view).
char* NonNull(std::string_view s) {
  static char empty[1] = {0};
  return s.empty() ? empty : const_cast<char*>(s.data());
}

std::string Derive(std::string_view password, std::string_view salt, int iterations) {
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(Pbkdf2())));
  if (!ctx) internal::OpenSslFatal("EVP_KDF_CTX_new");
  uint64_t iter = static_cast<uint64_t>(iterations);
  // pkcs5=1 turns off the SP 800-132 minimums (salt >= 16 bytes, >= 1000 iterations) that the
  // provider would otherwise enforce: the parameters are the caller's choice and are recorded.
  int pkcs5 = 1;
  char digest[] = "SHA256";
  // OSSL_PARAM takes non-const pointers but does not write through them for input parameters.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, NonNull(password),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, NonNull(salt), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
      OSSL_PARAM_construct_end(),
  };
  std::string out(kHashBytes, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) !=
      1) {
    internal::OpenSslFatal("PBKDF2-HMAC-SHA256");
  }
  return out;
}

struct Parsed {
  int iterations = 0;
  std::string salt, hash;
};

std::optional<Parsed> Parse(std::string_view encoded) {
  if (!StartsWith(encoded, kPrefix)) return std::nullopt;
  std::string_view rest = encoded.substr(kPrefix.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  std::string_view digits = rest.substr(0, d1);
  Parsed p;
  // Decimal digits only: no sign, no leading zero, within [1, kMaxPbkdf2Iterations].
  if (digits.empty() || digits[0] == '0') return std::nullopt;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.iterations);
  if (ec != std::errc() || end != digits.data() + digits.size() || p.iterations < 1 ||
      p.iterations > kMaxPbkdf2Iterations) {
    return std::nullopt;
  }
  rest = rest.substr(d1 + 1);
  size_t d2 = rest.find('$');
  if (d2 == std::string_view::npos) return std::nullopt;
  auto salt = internal::DecodeCanonicalBase64Url(rest.substr(0, d2));
  auto hash = internal::DecodeCanonicalBase64Url(rest.substr(d2 + 1));
  if (!salt || !hash || hash->size() != kHashBytes) return std::nullopt;
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  return p;
}

}  // namespace

std::string HashPassword(std::string_view password, std::string_view salt, int iterations) {
  iterations = std::clamp(iterations, 1, kMaxPbkdf2Iterations);
  return std::string(kPrefix) + std::to_string(iterations) + "$" + Base64UrlEncode(salt) + "$" +
         Base64UrlEncode(Derive(password, salt, iterations));
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  auto p = Parse(encoded);
  if (!p) return InvalidArgument("the stored password hash is not a PBKDF2-SHA256 hash");
  return ConstantTimeEquals(Derive(password, p->salt, p->iterations), p->hash);
}

bool NeedsRehash(std::string_view encoded, int iterations) {
  auto p = Parse(encoded);
  return !p || p->iterations < iterations;
}

}  // namespace meridian::crypto
