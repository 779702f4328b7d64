#include "crypto/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <cmath>
#include <optional>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace json = boost::json;
using internal::BignumPtr;
using internal::MdCtxPtr;

void PkeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
void MdCtxDeleter::operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }

namespace {

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 4096;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string BignumToBase64Url(const BIGNUM* bn) {
  std::string bytes(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));  // big-endian, minimal
  return Base64UrlEncode(bytes);
}

// `s` made safe to quote in an error message: printable ASCII, at most 32 characters.
std::string Printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 32)) out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 32) out += "...";
  return out;
}

// An RSA public key from its big-endian modulus and exponent.
Result<PkeyPtr> RsaPublicKey(std::string_view n, std::string_view e) {
  BignumPtr bn_n(BN_bin2bn(Bytes(n), static_cast<int>(n.size()), nullptr));
  BignumPtr bn_e(BN_bin2bn(Bytes(e), static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) internal::OpenSslFatal("BN_bin2bn");
  std::unique_ptr<OSSL_PARAM_BLD, internal::OpenSslDeleter<OSSL_PARAM_BLD_free>> bld(
      OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    internal::OpenSslFatal("OSSL_PARAM_BLD");
  }
  std::unique_ptr<OSSL_PARAM, internal::OpenSslDeleter<OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(bld.get()));
  internal::PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  if (!params || !ctx) internal::OpenSslFatal("EVP_PKEY_CTX_new_from_name(RSA)");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    internal::OpenSslErrors();  // clears the queue
    return InvalidArgument("the JWK is not a usable RSA public key");
  }
  return PkeyPtr(raw);
}

// An RS256 (PKCS#1 v1.5, SHA-256) sign or verify context for `key`; null if OpenSSL refuses.
CtxTemplate Rs256Template(EVP_PKEY* key, bool sign) {
  CtxTemplate ctx(EVP_MD_CTX_new());
  if (!ctx) internal::OpenSslFatal("EVP_MD_CTX_new");
  int rc = sign ? EVP_DigestSignInit(ctx.get(), nullptr, internal::Sha256Md(), nullptr, key)
                : EVP_DigestVerifyInit(ctx.get(), nullptr, internal::Sha256Md(), nullptr, key);
  if (rc != 1) {
    internal::OpenSslErrors();
    return nullptr;
  }
  return ctx;
}

// A working copy of `tmpl`. Reads `tmpl` only, so many threads may copy one template at once.
MdCtxPtr CopyOf(const CtxTemplate& tmpl) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_MD_CTX_copy_ex(ctx.get(), tmpl.get()) != 1) {
    internal::OpenSslFatal("EVP_MD_CTX_copy_ex");
  }
  return ctx;
}

PkeyPtr SharedRef(EVP_PKEY* key) {
  if (EVP_PKEY_up_ref(key) != 1) internal::OpenSslFatal("EVP_PKEY_up_ref");
  return PkeyPtr(key);
}

}  // namespace

// --- SigningKey ---------------------------------------------------------------------------------

Status SigningKey::Init() {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  bool ok = EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
            EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e) == 1;
  BignumPtr n_owner(n), e_owner(e);
  if (!ok) {
    internal::OpenSslErrors();
    return Internal("the RSA key has no modulus or exponent");
  }
  sign_template_ = Rs256Template(key_.get(), /*sign=*/true);
  if (!sign_template_) return Internal("the RSA key cannot sign RS256");
  n_ = BignumToBase64Url(n);
  e_ = BignumToBase64Url(e);
  kid_ = RsaJwkThumbprint(n_, e_);
  encoded_header_ = Base64UrlEncode(
      json::serialize(json::object{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", kid_}}));
  return Status::Ok();
}

Result<SigningKey> SigningKey::GenerateRsa2048() {
  SigningKey key;
  key.key_.reset(EVP_RSA_gen(2048));
  if (!key.key_) return Internal("RSA key generation failed: " + internal::OpenSslErrors());
  MERIDIAN_RETURN_IF_ERROR(key.Init());
  return key;
}

Result<SigningKey> SigningKey::FromPrivatePem(std::string_view pem) {
  internal::BioPtr bio = internal::MemoryBio(pem);
  if (!bio) return InvalidArgument("the private key PEM is too large");
  SigningKey key;
  // A callback that supplies no passphrase: without one OpenSSL would prompt on the terminal for
  // an encrypted key, which would hang a server.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return -1; };
  key.key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key.key_) {
    internal::OpenSslErrors();
    return InvalidArgument("not a PEM private key");
  }
  int bits = EVP_PKEY_get_bits(key.key_.get());
  if (!EVP_PKEY_is_a(key.key_.get(), "RSA") || bits < kMinRsaBits || bits > kMaxRsaBits) {
    return InvalidArgument("signing keys must be RSA keys of 2048 to 4096 bits");
  }
  Status st = key.Init();
  if (!st.ok()) return InvalidArgument(st.message());
  return key;
}

std::string SigningKey::PrivatePem() const { return internal::PrivateKeyPem(key_.get()); }

std::string SigningKey::PublicPem() const {
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key_.get()) != 1) {
    internal::OpenSslFatal("PEM_write_bio_PUBKEY");
  }
  return internal::BioContents(bio.get());
}

json::object SigningKey::PublicJwk() const {
  return {{"kty", "RSA"}, {"use", "sig"}, {"alg", "RS256"}, {"kid", kid_}, {"n", n_}, {"e", e_}};
}

std::string RsaJwkThumbprint(std::string_view n, std::string_view e) {
  // RFC 7638 section 3.2: the required members in lexicographic order, no whitespace. Base64url
  // values need no JSON escaping.
  std::string canonical = "{\"e\":\"";
  canonical.append(e);
  canonical += "\",\"kty\":\"RSA\",\"n\":\"";
  canonical.append(n);
  canonical += "\"}";
  return Base64UrlEncode(Sha256(canonical));
}

// --- Signing ------------------------------------------------------------------------------------

Result<std::string> SignJwt(const SigningKey& key, const json::object& payload) {
  std::string token = key.encoded_header();
  token.push_back('.');
  token += Base64UrlEncode(json::serialize(payload));
  size_t signing_input_size = token.size();

  // EVP_PKEY may be shared between threads; a context may not, so each call signs with its own
  // copy of the key's template.
  MdCtxPtr ctx = CopyOf(key.sign_template_);
  std::string sig(static_cast<size_t>(EVP_PKEY_get_size(key.pkey())), '\0');
  size_t sig_len = sig.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     Bytes(token), signing_input_size) != 1) {
    return Internal("JWT signing failed: " + internal::OpenSslErrors());
  }
  sig.resize(sig_len);
  token.push_back('.');
  token += Base64UrlEncode(sig);
  return token;
}

json::object Jwks(const std::vector<const SigningKey*>& keys) {
  json::array arr;
  arr.reserve(keys.size());
  for (const SigningKey* k : keys) arr.push_back(k->PublicJwk());
  return {{"keys", std::move(arr)}};
}

// --- Verification -------------------------------------------------------------------------------

Result<JwtVerifier> JwtVerifier::FromJwks(const json::object& jwks) {
  const json::value* keys = jwks.if_contains("keys");
  if (!keys || !keys->is_array()) return InvalidArgument("the JWKS has no \"keys\" array");
  JwtVerifier v;
  for (const json::value& k : keys->get_array()) {
    const json::object* o = k.if_object();
    if (!o) return InvalidArgument("a JWKS key is not a JSON object");
    // A member's string value; nullopt when absent; "" stands in for a non-string value.
    auto member = [o](std::string_view name) -> std::optional<std::string_view> {
      const json::value* x = o->if_contains(name);
      if (!x) return std::nullopt;
      return x->is_string() ? std::string_view(x->get_string()) : std::string_view();
    };
    auto kty = member("kty"), use = member("use"), alg = member("alg");
    if (kty != "RSA" || (use && *use != "sig") || (alg && *alg != "RS256")) continue;
    auto kid = member("kid"), n = member("n"), e = member("e");
    if (!kid || kid->empty()) return InvalidArgument("a JWKS RSA key has no kid");
    if (v.keys_.find(*kid) != v.keys_.end()) {
      return InvalidArgument("the JWKS has two keys with kid '" + Printable(*kid) + "'");
    }
    std::optional<std::string> nb = n ? internal::DecodeCanonicalBase64Url(*n) : std::nullopt;
    std::optional<std::string> eb = e ? internal::DecodeCanonicalBase64Url(*e) : std::nullopt;
    // Minimal big-endian (no leading zero octet), 2048 to 4096 bits, odd exponent of <= 64 bits.
    if (!nb || nb->size() < kMinRsaBits / 8 || nb->size() > kMaxRsaBits / 8 || (*nb)[0] == 0 ||
        !eb || eb->empty() || eb->size() > 8 || (*eb)[0] == 0 || (eb->back() & 1) == 0) {
      return InvalidArgument("the JWK '" + Printable(*kid) + "' has an unusable n or e");
    }
    MERIDIAN_ASSIGN_OR_RETURN(PkeyPtr pkey, RsaPublicKey(*nb, *eb));
    MERIDIAN_RETURN_IF_ERROR(v.Add(std::string(*kid), std::move(pkey)));
  }
  return v;
}

Status JwtVerifier::Add(std::string kid, PkeyPtr pkey) {
  CtxTemplate verify_template = Rs256Template(pkey.get(), /*sign=*/false);
  if (!verify_template) {
    return InvalidArgument("the key '" + Printable(kid) + "' cannot verify RS256");
  }
  keys_.emplace(std::move(kid), VerifyKey{std::move(pkey), std::move(verify_template)});
  return Status::Ok();
}

JwtVerifier JwtVerifier::FromSigningKeys(const std::vector<const SigningKey*>& keys) {
  JwtVerifier v;
  for (const SigningKey* k : keys) {
    // A key that signs RS256 verifies RS256, so this cannot fail.
    Status st = v.Add(k->kid(), SharedRef(k->pkey()));
    if (!st.ok()) internal::OpenSslFatal(st.message().c_str());
  }
  return v;
}

Result<json::object> JwtVerifier::Verify(std::string_view token) const {
  if (token.size() > kMaxTokenBytes) return Unauthenticated("the token is too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Unauthenticated("the token is not a JWS in compact form (three segments)");
  }
  auto header_json = internal::DecodeCanonicalBase64Url(token.substr(0, d1));
  auto payload_json = internal::DecodeCanonicalBase64Url(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = internal::DecodeCanonicalBase64Url(token.substr(d2 + 1));
  if (!header_json || !payload_json || !sig) {
    return Unauthenticated("the token is not valid base64url");
  }

  boost::system::error_code ec;
  json::value header = json::parse(*header_json, ec);
  if (ec || !header.is_object()) return Unauthenticated("the token header is not a JSON object");
  const json::object& h = header.get_object();
  const json::value* alg = h.if_contains("alg");
  if (!alg || !alg->is_string()) return Unauthenticated("the token header has no algorithm");
  if (alg->get_string() != "RS256") {
    return Unauthenticated("unsupported token algorithm '" + Printable(alg->get_string()) + "'");
  }
  // RFC 7515 section 4.1.11: a recipient must reject critical extensions it does not understand,
  // and this one understands none.
  if (h.contains("crit")) return Unauthenticated("the token has critical header parameters");
  const json::value* kid = h.if_contains("kid");
  if (!kid || !kid->is_string()) return Unauthenticated("the token header has no key id");
  auto key = keys_.find(std::string_view(kid->get_string()));
  if (key == keys_.end()) {
    return Unauthenticated("the token was signed by an unknown key '" +
                           Printable(kid->get_string()) + "'");
  }

  MdCtxPtr ctx = CopyOf(key->second.verify_template);
  std::string_view signing_input = token.substr(0, d2);
  if (EVP_DigestVerify(ctx.get(), Bytes(*sig), sig->size(), Bytes(signing_input),
                       signing_input.size()) != 1) {
    internal::OpenSslErrors();  // a bad signature leaves errors queued; drop them
    return Unauthenticated("token signature is invalid");
  }

  json::value payload = json::parse(*payload_json, ec);
  if (ec || !payload.is_object()) return Unauthenticated("the token payload is not a JSON object");
  return std::move(payload.get_object());
}

std::optional<std::string> UnverifiedKid(std::string_view token) {
  if (token.size() > JwtVerifier::kMaxTokenBytes) return std::nullopt;
  auto header_json = internal::DecodeCanonicalBase64Url(token.substr(0, token.find('.')));
  if (!header_json) return std::nullopt;
  boost::system::error_code ec;
  json::value header = json::parse(*header_json, ec);
  const json::value* kid =
      !ec && header.is_object() ? header.get_object().if_contains("kid") : nullptr;
  if (!kid || !kid->is_string()) return std::nullopt;
  return std::string(kid->get_string());
}

// --- Time claims --------------------------------------------------------------------------------

Result<int64_t> ParseNumericDate(const json::value& value, std::string_view claim) {
  auto bad = [&] {
    return Unauthenticated("the token's " + std::string(claim) +
                           " is not a NumericDate (a non-negative integer number of seconds)");
  };
  switch (value.kind()) {
    case json::kind::int64: {
      int64_t v = value.get_int64();
      if (v < 0 || v > kMaxNumericDate) return bad();
      return v;
    }
    case json::kind::uint64: {
      uint64_t v = value.get_uint64();
      if (v > static_cast<uint64_t>(kMaxNumericDate)) return bad();
      return static_cast<int64_t>(v);
    }
    case json::kind::double_: {
      double d = value.get_double();
      // NaN fails every comparison, so !(d >= 0) refuses it along with the negatives; the upper
      // bound refuses the infinities and keeps the cast below in range.
      if (!(d >= 0) || d > static_cast<double>(kMaxNumericDate)) return bad();
      return static_cast<int64_t>(std::floor(d));
    }
    default:
      return bad();
  }
}

Result<TimeClaims> CheckTimeClaims(const json::object& claims, int64_t now_seconds,
                                   int64_t leeway_seconds) {
  TimeClaims t;
  const json::value* exp = claims.if_contains("exp");
  if (!exp) return Unauthenticated("the token has no expiry (exp)");
  MERIDIAN_ASSIGN_OR_RETURN(t.exp, ParseNumericDate(*exp, "exp"));
  if (const json::value* nbf = claims.if_contains("nbf")) {
    MERIDIAN_ASSIGN_OR_RETURN(t.nbf, ParseNumericDate(*nbf, "nbf"));
  }
  if (const json::value* iat = claims.if_contains("iat")) {
    MERIDIAN_ASSIGN_OR_RETURN(t.iat, ParseNumericDate(*iat, "iat"));
  }
  // The parsed times are at most kMaxNumericDate, so only `now` and `leeway` could overflow here.
  if (t.exp <= now_seconds - leeway_seconds) {
    return Unauthenticated("Lifetime validation failed, the token is expired.");
  }
  if (t.nbf && *t.nbf > now_seconds + leeway_seconds) {
    return Unauthenticated("the token is not yet valid (nbf)");
  }
  return t;
}

}  // namespace meridian::crypto
