// Private to crypto/: owning pointers for OpenSSL objects and the handling of OpenSSL failures
// that cannot happen (allocation, a missing built-in algorithm), which end the process loudly.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::crypto::internal {

template <auto Free>
struct OpenSslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};

using BioPtr = std::unique_ptr<BIO, OpenSslDeleter<BIO_free_all>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpenSslDeleter<BN_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpenSslDeleter<EVP_MD_CTX_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpenSslDeleter<EVP_PKEY_CTX_free>>;
using OwnedPkey = std::unique_ptr<EVP_PKEY, OpenSslDeleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, OpenSslDeleter<X509_free>>;

// Prints `what` and OpenSSL's error queue to stderr, then aborts. For failures that only
// allocation exhaustion or a broken OpenSSL installation can cause.
[[noreturn]] void OpenSslFatal(const char* what);

// The OpenSSL error queue as one line (and clears it), for error messages.
std::string OpenSslErrors();

// A read-only memory BIO over `data` (which must outlive it); nullptr when too large.
BioPtr MemoryBio(std::string_view data);

// The contents of a memory BIO.
std::string BioContents(BIO* bio);

// Unencrypted PKCS#8 PEM of a private key.
std::string PrivateKeyPem(const EVP_PKEY* key);

// `in` decoded from base64url exactly as Base64UrlEncode writes it: no padding and zero trailing
// bits, so that each byte string has one spelling (tokens and stored hashes are not malleable).
// nullopt for anything else.
std::optional<std::string> DecodeCanonicalBase64Url(std::string_view in);

// SHA-256, fetched once from the default provider and shared (EVP_MD objects are immutable).
const EVP_MD* Sha256Md();

}  // namespace meridian::crypto::internal
