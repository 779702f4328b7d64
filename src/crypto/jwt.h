// JSON Web Tokens signed with RS256 (RFC 7515, 7518, 7519): RSA signing keys with their RFC 7638
// key ids, token signing, JWKS documents, strict signature verification, and the time-claim check.
// Claims other than exp and nbf (aud, iss, tid, ...) are the caller's to check.
#pragma once

#include <openssl/types.h>

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::crypto {

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const;
};
// A digest-sign or digest-verify context initialised once (algorithm fetch and key set up, which
// in OpenSSL 3.0 costs several microseconds and takes global locks) and then only read: each call
// copies it (EVP_MD_CTX_copy_ex, under a microsecond) and works on the copy.
using CtxTemplate = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

// An RSA private key (2048 to 4096 bits; GenerateRsa2048 makes 2048) with its key id, the
// RFC 7638 JWK thumbprint. Immutable after construction, so one key may sign from many threads at
// once without locking. Move-only; owns its EVP_PKEY.
class SigningKey {
 public:
  // A fresh key from OpenSSL's CSPRNG. Internal if OpenSSL fails.
  static Result<SigningKey> GenerateRsa2048();
  // The key in a PEM private key (PKCS#8 or PKCS#1, unencrypted), as PrivatePem writes it.
  // InvalidArgument when the PEM does not parse, is encrypted, or is not an RSA key of 2048 to
  // 4096 bits.
  static Result<SigningKey> FromPrivatePem(std::string_view pem);

  SigningKey(SigningKey&&) noexcept = default;
  SigningKey& operator=(SigningKey&&) noexcept = default;

  // Unencrypted PKCS#8 PEM. Secret: store it as such.
  std::string PrivatePem() const;
  // SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY").
  std::string PublicPem() const;
  // The base64url SHA-256 JWK thumbprint of the public key (RFC 7638).
  const std::string& kid() const { return kid_; }
  // {"kty":"RSA","use":"sig","alg":"RS256","kid":...,"n":...,"e":...}
  boost::json::object PublicJwk() const;
  // The base64url header segment of every token this key signs (precomputed).
  const std::string& encoded_header() const { return encoded_header_; }
  // Borrowed; valid as long as this key.
  EVP_PKEY* pkey() const { return key_.get(); }

 private:
  friend Result<std::string> SignJwt(const SigningKey& key, const boost::json::object& payload);

  SigningKey() = default;
  // Fills the derived fields from key_. Internal if the key has no RSA modulus and exponent or
  // cannot sign RS256.
  Status Init();

  PkeyPtr key_;
  CtxTemplate sign_template_;  // RS256 over key_
  std::string kid_;
  std::string n_, e_;  // base64url big-endian modulus and exponent, no leading zero octet
  std::string encoded_header_;
};

// The RFC 7638 thumbprint of an RSA JWK with base64url members `n` and `e`: base64url SHA-256 of
// {"e":"<e>","kty":"RSA","n":"<n>"}.
std::string RsaJwkThumbprint(std::string_view n, std::string_view e);

// The compact JWS of `payload` with header {"typ":"JWT","alg":"RS256","kid":<key.kid()>}.
// Thread-safe, including for concurrent calls with the same key. Internal if OpenSSL fails.
Result<std::string> SignJwt(const SigningKey& key, const boost::json::object& payload);

// {"keys":[<PublicJwk of each key>...]}, in the order given.
boost::json::object Jwks(const std::vector<const SigningKey*>& keys);

// Verifies RS256 compact tokens against a fixed set of public keys looked up by kid. Immutable
// after construction: Verify may be called from many threads at once. Move-only.
class JwtVerifier {
 public:
  // Tokens longer than this are rejected before any parsing.
  static constexpr size_t kMaxTokenBytes = 64 * 1024;

  // The RSA keys of a JWKS document ({"keys":[...]}). Keys for another purpose (kty other than
  // RSA, "use" other than "sig", "alg" other than "RS256") are skipped. InvalidArgument when
  // there is no "keys" array, or an RSA signing key has no kid, a kid seen before, or an n or e
  // that is not canonical base64url of a 2048- to 4096-bit modulus and an odd exponent.
  static Result<JwtVerifier> FromJwks(const boost::json::object& jwks);
  // The public halves of `keys` (which need not outlive the verifier), keyed by kid.
  static JwtVerifier FromSigningKeys(const std::vector<const SigningKey*>& keys);

  JwtVerifier(JwtVerifier&&) noexcept = default;
  JwtVerifier& operator=(JwtVerifier&&) noexcept = default;

  // The payload claims of `token`. Unauthenticated, with a message saying what was wrong, unless
  // the token is three canonical base64url segments (no padding); the header is a JSON object
  // with "alg" exactly "RS256", a known "kid" and no "crit"; the RS256 signature verifies with
  // that key; and the payload is a JSON object.
  Result<boost::json::object> Verify(std::string_view token) const;

  // The number of keys held.
  size_t size() const { return keys_.size(); }
  // Whether a key with this kid is held.
  bool Has(std::string_view kid) const { return keys_.find(kid) != keys_.end(); }

 private:
  struct VerifyKey {
    PkeyPtr pkey;
    CtxTemplate verify_template;  // RS256 over pkey
  };
  JwtVerifier() = default;
  // Adds `pkey` under `kid`. InvalidArgument when OpenSSL cannot verify RS256 with it.
  Status Add(std::string kid, PkeyPtr pkey);

  std::map<std::string, VerifyKey, std::less<>> keys_;
};

// The "kid" of a compact JWS's header, read without verifying anything; nullopt unless the first
// segment is canonical base64url of a JSON object with a string "kid". For choosing keys (a
// reload when a token names a key not yet loaded), never for trusting a token.
std::optional<std::string> UnverifiedKid(std::string_view token);

// The latest NumericDate accepted: 9999-12-31T23:59:59Z. Far beyond any real token, and small
// enough that adding a leeway or converting to milliseconds cannot overflow int64.
inline constexpr int64_t kMaxNumericDate = 253'402'300'799;

// The NumericDate (RFC 7519 section 2) in `value`, in whole seconds since the epoch: a JSON number
// that is non-negative and no greater than kMaxNumericDate, however Boost.JSON holds it (int64,
// uint64, or a double such as 1.7e9). Fractional seconds, which RFC 7519 allows and python's MSAL
// writes in its client assertions, are rounded down: an expiry comes no later, and a not-before
// less than a second earlier is well within any clock skew allowed. The one parser of token
// times: every exp, nbf and iat goes through it. Unauthenticated, naming `claim`, for anything
// else: a string, boolean, null, array or object; a negative, infinite or NaN number; a number
// beyond kMaxNumericDate (1e300, 2^63, ...). Never throws.
Result<int64_t> ParseNumericDate(const boost::json::value& value, std::string_view claim);

// The time claims of a token that CheckTimeClaims accepted.
struct TimeClaims {
  int64_t exp = 0;
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
};

// The time claims of `claims` when the token is valid at `now_seconds` (RFC 7519 sections 4.1.4
// to 4.1.6): "exp" is present and later than now - leeway; "nbf", if present, is no later than
// now + leeway; "iat", if present, is well formed (it is not compared with now). Each through
// ParseNumericDate. Unauthenticated otherwise, with a message naming the claim: no exp, a
// malformed exp, nbf or iat, expired, or not yet valid. Never throws.
Result<TimeClaims> CheckTimeClaims(const boost::json::object& claims, int64_t now_seconds,
                                   int64_t leeway_seconds);

}  // namespace meridian::crypto
