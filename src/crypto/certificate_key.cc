#include "crypto/certificate_key.h"

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include <boost/json.hpp>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"

namespace meridian::crypto {
namespace json = boost::json;
using internal::DecodeCanonicalBase64Url;

namespace {

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) {
    internal::OpenSslFatal("EVP_Digest");
  }
  return std::string(reinterpret_cast<char*>(out), n);
}

// The DER ECDSA signature of a JWS ES256 signature (R || S, 32 bytes each).
std::optional<std::string> EcdsaDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (!sig) internal::OpenSslFatal("ECDSA_SIG_new");
  BIGNUM* r = BN_bin2bn(Bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(Bytes(raw) + 32, 32, nullptr);
  if (!r || !s || ECDSA_SIG_set0(sig, r, s) != 1) internal::OpenSslFatal("ECDSA_SIG_set0");
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (n <= 0) internal::OpenSslFatal("i2d_ECDSA_SIG");
  std::string out(reinterpret_cast<char*>(der), n);
  OPENSSL_free(der);
  return out;
}

Status Fail(std::string why) { return Status(Code::kUnauthenticated, std::move(why)); }

}  // namespace

Result<CertificateKey> CertificateKey::FromDer(std::string_view der) {
  const unsigned char* p = Bytes(der);
  internal::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != Bytes(der) + der.size()) {
    internal::OpenSslErrors();
    return InvalidArgument("the key is not one DER X.509 certificate");
  }
  CertificateKey out;
  out.key_.reset(X509_get_pubkey(cert.get()));
  if (!out.key_) return InvalidArgument("the certificate's public key cannot be read");
  int id = EVP_PKEY_get_base_id(out.key_.get());
  int bits = EVP_PKEY_get_bits(out.key_.get());
  if (id == EVP_PKEY_RSA) {
    if (bits < 2048 || bits > 4096) {
      return InvalidArgument("the certificate's RSA key must have 2048 to 4096 bits");
    }
    out.rsa_ = true;
  } else if (id == EVP_PKEY_EC) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(out.key_.get(), "group", group, sizeof(group), &len) != 1 ||
        std::string_view(group) != "prime256v1") {
      internal::OpenSslErrors();
      return InvalidArgument("the certificate's EC key must be on P-256");
    }
  } else {
    return InvalidArgument("the certificate's key must be RSA or EC P-256");
  }
  out.x5t_ = Base64UrlEncode(Digest(EVP_sha1(), der));
  out.x5t_s256_ = Base64UrlEncode(Digest(EVP_sha256(), der));
  return out;
}

Result<json::object> VerifyWithCertificates(std::string_view token,
                                            const std::vector<const CertificateKey*>& keys) {
  if (token.size() > JwtVerifier::kMaxTokenBytes) return Fail("the token is too long");
  size_t d1 = token.find('.');
  size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Fail("the token is not a JWS in compact form (three segments)");
  }
  auto header_json = DecodeCanonicalBase64Url(token.substr(0, d1));
  auto payload_json = DecodeCanonicalBase64Url(token.substr(d1 + 1, d2 - d1 - 1));
  auto sig = DecodeCanonicalBase64Url(token.substr(d2 + 1));
  if (!header_json || !payload_json || !sig) return Fail("the token is not valid base64url");
  boost::system::error_code ec;
  json::value header = json::parse(*header_json, ec);
  if (ec || !header.is_object()) return Fail("the token header is not a JSON object");
  const json::object& h = header.get_object();
  if (h.contains("crit")) return Fail("the token has critical header parameters");
  auto str = [&](std::string_view k) -> std::string_view {
    const json::value* v = h.if_contains(k);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
  };
  // RFC 7515 writes thumbprints unpadded; python's MSAL pads x5t ("...="), and Entra accepts it.
  auto unpadded = [](std::string_view t) {
    for (int i = 0; i < 2 && !t.empty() && t.back() == '='; ++i) t.remove_suffix(1);
    return t;
  };
  std::string_view s256 = unpadded(str("x5t#S256")), s1 = unpadded(str("x5t")), alg = str("alg");
  const CertificateKey* key = nullptr;
  for (const CertificateKey* k : keys) {
    if (!s256.empty() ? k->x5t_s256() == s256 : (!s1.empty() && k->x5t() == s1)) key = k;
  }
  if (s256.empty() && s1.empty()) return Fail("the token header names no certificate (x5t)");
  if (!key) return Fail("the token names a certificate the application does not have");

  std::string_view signing_input = token.substr(0, d2);
  internal::MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) internal::OpenSslFatal("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;
  std::string signature = *sig;
  if (key->is_rsa() && (alg == "RS256" || alg == "PS256")) {
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key->pkey()) != 1) {
      internal::OpenSslFatal("EVP_DigestVerifyInit");
    }
    if (alg == "PS256" && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) != 1 ||
                           EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) != 1)) {
      internal::OpenSslFatal("PSS parameters");
    }
  } else if (!key->is_rsa() && alg == "ES256") {
    auto der = EcdsaDer(*sig);
    if (!der) return Fail("the ES256 signature is not 64 bytes");
    signature = std::move(*der);
    if (EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key->pkey()) != 1) {
      internal::OpenSslFatal("EVP_DigestVerifyInit");
    }
  } else {
    return Fail("the algorithm '" + std::string(alg.substr(0, 16)) +
                "' is not accepted for this certificate");
  }
  if (EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(), Bytes(signing_input),
                       signing_input.size()) != 1) {
    internal::OpenSslErrors();
    return Fail("the token signature is invalid");
  }
  json::value payload = json::parse(*payload_json, ec);
  if (ec || !payload.is_object()) return Fail("the token payload is not a JSON object");
  return std::move(payload.get_object());
}

}  // namespace meridian::crypto
