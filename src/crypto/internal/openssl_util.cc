#include "crypto/internal/openssl_util.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

#include "common/encoding.h"

namespace meridian::crypto::internal {

void OpenSslFatal(const char* what) {
  std::fprintf(stderr, "meridian: fatal OpenSSL failure: %s: %s\n", what, OpenSslErrors().c_str());
  std::abort();
}

std::string OpenSslErrors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

BioPtr MemoryBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) return nullptr;
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!bio) OpenSslFatal("BIO_new_mem_buf");
  return bio;
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<size_t>(len));
}

std::string PrivateKeyPem(const EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    OpenSslFatal("PEM_write_bio_PrivateKey");
  }
  return BioContents(bio.get());
}

std::optional<std::string> DecodeCanonicalBase64Url(std::string_view in) {
  // Base64UrlDecode strips '=' padding and ignores trailing bits; refuse both here rather than
  // re-encoding to compare, which would double the cost on the token path.
  if (!in.empty() && in.back() == '=') return std::nullopt;
  auto out = Base64UrlDecode(in);
  if (!out) return std::nullopt;
  size_t rest = in.size() % 4;  // 2 or 3 characters carry 1 or 2 bytes and 4 or 2 spare bits
  if (rest != 0) {
    char c = in.back();
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '-'             ? 62
                                   : 63;
    int spare_mask = rest == 2 ? 0x0f : 0x03;
    if ((v & spare_mask) != 0) return std::nullopt;
  }
  return out;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (!fetched) OpenSslFatal("EVP_MD_fetch(SHA256)");
    return fetched;  // deliberately never freed: lives as long as the process
  }();
  return md;
}

}  // namespace meridian::crypto::internal
