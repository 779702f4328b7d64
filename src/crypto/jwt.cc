#include "crypto/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace json = boost::json;

void PkeyDeleter::operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }

namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

std::string BnToBase64Url(const BIGNUM* bn) {
  std::string bytes(BN_num_bytes(bn), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  return Base64UrlEncode(bytes);
}

Status Unauth(std::string m) { return Status(Code::kUnauthenticated, std::move(m)); }

}  // namespace

SigningKey::SigningKey(PkeyPtr key) : key_(std::move(key)) {
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N, &n);
  EVP_PKEY_get_bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E, &e);
  n_ = BnToBase64Url(n);
  e_ = BnToBase64Url(e);
  BN_free(n);
  BN_free(e);
  // RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
  kid_ = Base64UrlEncode(Sha256("{\"e\":\"" + e_ + "\",\"kty\":\"RSA\",\"n\":\"" + n_ + "\"}"));
}

Result<SigningKey> SigningKey::GenerateRsa2048() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  if (!key) return Internal("RSA key generation failed");
  return SigningKey(PkeyPtr(key));
}

Result<SigningKey> SigningKey::FromPrivatePem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!key) return InvalidArgument("not a PEM private key");
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA || EVP_PKEY_get_bits(key) < 2048) {
    EVP_PKEY_free(key);
    return InvalidArgument("signing keys must be RSA keys of at least 2048 bits");
  }
  return SigningKey(PkeyPtr(key));
}

std::string SigningKey::PrivatePem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

json::object SigningKey::PublicJwk() const {
  return {{"kty", "RSA"}, {"use", "sig"}, {"alg", "RS256"}, {"kid", kid_}, {"n", n_}, {"e", e_}};
}

Result<std::string> SignJwt(const SigningKey& key, const json::object& payload) {
  json::object header{{"typ", "JWT"}, {"alg", "RS256"}, {"kid", key.kid()}};
  std::string input = Base64UrlEncode(json::serialize(header)) + "." +
                      Base64UrlEncode(json::serialize(payload));
  MdCtx ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) != 1) {
    return Internal("JWT signing failed");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Internal("JWT signing failed");
  }
  sig.resize(len);
  return input + "." + Base64UrlEncode(sig);
}

json::object Jwks(const std::vector<const SigningKey*>& keys) {
  json::array arr;
  for (const SigningKey* k : keys) arr.push_back(k->PublicJwk());
  return {{"keys", std::move(arr)}};
}

Result<JwtVerifier> JwtVerifier::FromJwks(const json::object& jwks) {
  JwtVerifier v;
  auto* keys = jwks.if_contains("keys");
  if (!keys || !keys->is_array()) return InvalidArgument("JWKS without a keys array");
  for (const auto& k : keys->get_array()) {
    auto* o = k.if_object();
    auto str = [&](const char* name) -> std::optional<std::string> {
      auto* x = o ? o->if_contains(name) : nullptr;
      if (!x || !x->is_string()) return std::nullopt;
      return std::string(x->get_string());
    };
    auto kty = str("kty"), kid = str("kid"), n = str("n"), e = str("e");
    if (!kty || *kty != "RSA" || !kid || !n || !e) return InvalidArgument("unusable JWK");
    auto nb = Base64UrlDecode(*n), eb = Base64UrlDecode(*e);
    if (!nb || !eb || nb->size() < 256) return InvalidArgument("unusable RSA JWK");
    BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()),
                             static_cast<int>(nb->size()), nullptr);
    BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()),
                             static_cast<int>(eb->size()), nullptr);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n);
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e);
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
    EVP_PKEY* pkey = nullptr;
    bool ok = pctx && EVP_PKEY_fromdata_init(pctx) == 1 &&
              EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (!ok) return InvalidArgument("unusable RSA JWK");
    v.keys_[*kid] = std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
  }
  return v;
}

Result<json::object> JwtVerifier::Verify(std::string_view token) const {
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Unauth("the token is not a JWS in compact form");
  }
  auto header_raw = Base64UrlDecode(token.substr(0, d1));
  auto payload_raw = Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = Base64UrlDecode(token.substr(d2 + 1));
  if (!header_raw || !payload_raw || !sig) return Unauth("the token is not valid base64url");
  boost::system::error_code ec;
  json::value header = json::parse(*header_raw, ec);
  if (ec || !header.is_object()) return Unauth("the token header is not a JSON object");
  auto* alg = header.get_object().if_contains("alg");
  if (!alg || !alg->is_string()) return Unauth("the token header has no algorithm");
  if (alg->get_string() != "RS256") {
    return Unauth("unsupported token algorithm '" + std::string(alg->get_string()) + "'");
  }
  auto* kid = header.get_object().if_contains("kid");
  if (!kid || !kid->is_string()) return Unauth("the token header has no key id");
  auto key = keys_.find(std::string_view(kid->get_string()));
  if (key == keys_.end()) return Unauth("the token was signed by an unknown key");
  MdCtx ctx(EVP_MD_CTX_new());
  std::string_view input = token.substr(0, d2);
  if (!ctx ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key->second.get()) != 1 ||
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig->data()), sig->size(),
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Unauth("token signature is invalid");
  }
  json::value payload = json::parse(*payload_raw, ec);
  if (ec || !payload.is_object()) return Unauth("the token payload is not a JSON object");
  return std::move(payload.get_object());
}

Status CheckTimeClaims(const json::object& claims, int64_t now, int64_t leeway) {
  auto num = [&](const char* name) -> std::optional<int64_t> {
    auto* v = claims.if_contains(name);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
    if (v->is_double()) return static_cast<int64_t>(v->get_double());
    return std::nullopt;
  };
  auto exp = num("exp");
  if (!exp) return Unauth("the token has no expiry");
  if (*exp <= now - leeway) return Unauth("Lifetime validation failed, the token is expired.");
  if (claims.contains("nbf")) {
    auto nbf = num("nbf");
    if (!nbf || *nbf > now + leeway) return Unauth("the token is not valid yet");
  }
  return Status::Ok();
}

}  // namespace meridian::crypto
