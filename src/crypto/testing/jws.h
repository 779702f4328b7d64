// Test-only: what a client does to sign in with a certificate. Makes certificates (RSA, EC
// P-256) and signs JWS compact tokens with any header, so tests can build client assertions,
// good and hostile, as a client library would.
#pragma once

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "crypto/tls_cert.h"

namespace meridian::crypto::testing {

struct TestCertificate {
  std::string der;  // the certificate
  EVP_PKEY* key = nullptr;  // its private key; owned
  TestCertificate() = default;
  TestCertificate(TestCertificate&& o) noexcept : der(std::move(o.der)), key(o.key) { o.key = nullptr; }
  ~TestCertificate() { EVP_PKEY_free(key); }
};

// A self-signed certificate for a new RSA key of `bits`.
inline TestCertificate RsaCertificate(int bits = 2048) {
  TestCertificate out;
  out.key = EVP_RSA_gen(bits);
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 30);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("workload"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, out.key);
  X509_sign(x, out.key, EVP_sha256());
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  out.der.assign(reinterpret_cast<char*>(der), n);
  OPENSSL_free(der);
  X509_free(x);
  return out;
}

// A self-signed certificate for a new EC P-256 key (crypto/tls_cert.h).
inline TestCertificate EcCertificate() {
  auto made = GenerateSelfSignedCertificate({"workload.test"}, {}, 30);
  TestCertificate out;
  BIO* b = BIO_new_mem_buf(made->cert_pem.data(), static_cast<int>(made->cert_pem.size()));
  X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  out.der.assign(reinterpret_cast<char*>(der), n);
  OPENSSL_free(der);
  X509_free(x);
  b = BIO_new_mem_buf(made->key_pem.data(), static_cast<int>(made->key_pem.size()));
  out.key = PEM_read_bio_PrivateKey(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  return out;
}

// base64url SHA-1 / SHA-256 of `der`: x5t and x5t#S256.
inline std::string Thumbprint(std::string_view der, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(der.data(), der.size(), out, &n, md, nullptr);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(out), n));
}

// The compact JWS of `payload` under `header` (serialized as given), signed with `key` by
// `alg`: RS256, PS256 or ES256 (R || S). Any other alg gives an empty signature.
inline std::string SignJws(const boost::json::object& header, const boost::json::object& payload,
                           EVP_PKEY* key, std::string_view alg) {
  std::string input = Base64UrlEncode(boost::json::serialize(header)) + "." +
                      Base64UrlEncode(boost::json::serialize(payload));
  if (alg != "RS256" && alg != "PS256" && alg != "ES256") return input + ".";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), nullptr, key);
  if (alg == "PS256") {
    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32);
  }
  size_t n = 0;
  EVP_DigestSign(ctx, nullptr, &n, reinterpret_cast<const unsigned char*>(input.data()),
                 input.size());
  std::string sig(n, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &n,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  sig.resize(n);
  EVP_MD_CTX_free(ctx);
  if (alg == "ES256") {  // DER to R || S
    const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(s);
    sig = raw;
  }
  return input + "." + Base64UrlEncode(sig);
}

}  // namespace meridian::crypto::testing
