// Certificates that verify client assertions (RFC 7523, OAuth's private_key_jwt): an
// administrator registers a certificate on an application (Graph's keyCredentials), the workload
// signs a JWT with its private key, and the token service checks that JWT against the
// certificate the header names by thumbprint (x5t or x5t#S256, RFC 7515 sections 4.1.7-8).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "crypto/jwt.h"

namespace meridian::crypto {

// The public key of one X.509 certificate, with its thumbprints. Immutable; move-only.
class CertificateKey {
 public:
  // From the certificate's DER. InvalidArgument unless it is one X.509 certificate (nothing
  // after it) whose key is RSA of 2048 to 4096 bits or EC P-256.
  static Result<CertificateKey> FromDer(std::string_view der);

  CertificateKey(CertificateKey&&) noexcept = default;
  CertificateKey& operator=(CertificateKey&&) noexcept = default;

  // base64url SHA-1 and SHA-256 of the DER: the x5t and x5t#S256 that name it in a JWS header.
  const std::string& x5t() const { return x5t_; }
  const std::string& x5t_s256() const { return x5t_s256_; }
  bool is_rsa() const { return rsa_; }
  EVP_PKEY* pkey() const { return key_.get(); }

 private:
  CertificateKey() = default;
  PkeyPtr key_;
  bool rsa_ = false;
  std::string x5t_, x5t_s256_;
};

// The payload of compact JWS `token` when it verifies with the one of `keys` its header names:
// by x5t#S256 when present, else by x5t. Algorithms: RS256 and PS256 (salt of 32 bytes) for RSA
// keys, ES256 for EC keys; anything else ("none", HS256, an algorithm of the other key type)
// fails. As strict as JwtVerifier::Verify otherwise: canonical base64url in three segments, JSON
// objects, no "crit", at most JwtVerifier::kMaxTokenBytes. Unauthenticated, saying what was
// wrong, on any failure; never throws.
Result<boost::json::object> VerifyWithCertificates(std::string_view token,
                                                   const std::vector<const CertificateKey*>& keys);

}  // namespace meridian::crypto
