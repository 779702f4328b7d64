// JSON Web Tokens signed with RS256 (RFC 7515/7519): signing keys, strict verification, JWKS.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace meridian::crypto {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// An RSA-2048 private key with its key id (the RFC 7638 JWK thumbprint). Immutable after
// construction and safe to use from many threads at once.
class SigningKey {
 public:
  static Result<SigningKey> GenerateRsa2048();
  // InternalArgument when the PEM is not an RSA private key.
  static Result<SigningKey> FromPrivatePem(std::string_view pem);

  std::string PrivatePem() const;
  const std::string& kid() const { return kid_; }
  boost::json::object PublicJwk() const;
  EVP_PKEY* pkey() const { return key_.get(); }

 private:
  explicit SigningKey(PkeyPtr key);
  PkeyPtr key_;
  std::string kid_;
  std::string n_, e_;  // base64url big-endian modulus and exponent
};

// Signs `payload` with header {"typ":"JWT","alg":"RS256","kid":...}. Thread-safe.
Result<std::string> SignJwt(const SigningKey& key, const boost::json::object& payload);

// {"keys":[<public JWK>...]}
boost::json::object Jwks(const std::vector<const SigningKey*>& keys);

// Verifies RS256 tokens against a fixed set of public keys. Immutable; thread-safe.
class JwtVerifier {
 public:
  // From a JWKS document; InvalidArgument for a key that is not a usable RSA public key.
  static Result<JwtVerifier> FromJwks(const boost::json::object& jwks);

  // The payload of a well-formed token with a valid RS256 signature by a known key; else
  // Unauthenticated saying what was wrong. Claims (exp, aud, ...) are the caller's to check.
  Result<boost::json::object> Verify(std::string_view token) const;

 private:
  std::map<std::string, std::shared_ptr<EVP_PKEY>, std::less<>> keys_;
};

// Requires a numeric exp later than now - leeway and, when present, nbf not after now + leeway.
Status CheckTimeClaims(const boost::json::object& claims, int64_t now_seconds,
                       int64_t leeway_seconds);

}  // namespace meridian::crypto
