#include "crypto/sealed.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cctype>
#include <memory>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kIdBytes = 8;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kHeaderBytes = 1 + kIdBytes + kNonceBytes;

using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, internal::OpenSslDeleter<EVP_CIPHER_CTX_free>>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, internal::OpenSslDeleter<EVP_KDF_CTX_free>>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
unsigned char* Bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

// Appends `s` with its length (8 bytes, big-endian), so that concatenated fields cannot be
// regrouped: ("ab", "c") and ("a", "bc") encode differently.
void AppendField(std::string* out, std::string_view s) {
  PutBigEndian64(out, s.size());
  out->append(s);
}

// HKDF, fetched once from the default provider and shared (EVP_KDF objects are immutable).
EVP_KDF* Hkdf() {
  static EVP_KDF* const kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (k == nullptr) internal::OpenSslFatal("EVP_KDF_fetch(HKDF)");
    return k;
  }();
  return kdf;
}

// The data key of (label.purpose, label.scope) under `kek`: HKDF-SHA256 with no salt (the KEK
// is uniformly random) and info "meridian sealed v1" followed by the two length-prefixed fields.
// The caller wipes it.
std::string DataKey(const std::string& kek, const SealLabel& label) {
  std::string info = "meridian sealed v1";
  AppendField(&info, label.purpose);
  AppendField(&info, label.scope);
  KdfCtxPtr ctx(EVP_KDF_CTX_new(Hkdf()));
  if (!ctx) internal::OpenSslFatal("EVP_KDF_CTX_new");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(kek.data()),
                                        kek.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end()};
  std::string key(32, '\0');
  if (EVP_KDF_derive(ctx.get(), Bytes(key), key.size(), params) != 1) {
    internal::OpenSslFatal("HKDF-SHA256");
  }
  return key;
}

// What GCM authenticates besides the ciphertext: the header and the record.
std::string AssociatedData(std::string_view header, const SealLabel& label) {
  std::string ad(header);
  AppendField(&ad, label.record);
  return ad;
}

// Wipes a string holding key material or plaintext when it goes out of scope.
struct WipeOnExit {
  std::string* s;
  ~WipeOnExit() { OPENSSL_cleanse(s->data(), s->size()); }
};

}  // namespace

Kek::Kek(std::string bytes)
    : bytes_(std::move(bytes)), id_(HmacSha256(bytes_, "meridian kek id").substr(0, kIdBytes)) {}

Kek::~Kek() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Result<Kek> Kek::FromText(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  std::optional<std::string> raw = Base64UrlDecode(text);
  if (!raw || raw->size() != kBytes) {
    if (raw) OPENSSL_cleanse(raw->data(), raw->size());
    return InvalidArgument(
        "a key-encryption key must be the base64url encoding of exactly 32 "
        "bytes");
  }
  return Kek(std::move(*raw));
}

Kek Kek::Generate(Random& random) { return Kek(random.Bytes(kBytes)); }

std::string Kek::ToText() const { return Base64UrlEncode(bytes_); }

std::string Kek::IdHex() const { return HexEncode(id_); }

std::string Seal(const Kek& kek, const SealLabel& label, std::string_view plaintext,
                 Random& random) {
  std::string out;
  out.reserve(kHeaderBytes + plaintext.size() + kTagBytes);
  out.push_back(static_cast<char>(kVersion));
  out += kek.id_;
  out += random.Bytes(kNonceBytes);
  std::string key = DataKey(kek.bytes_, label);
  WipeOnExit wipe{&key};
  std::string ad = AssociatedData(out, label);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key),
                         Bytes(std::string_view(out).substr(1 + kIdBytes))) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(ad), static_cast<int>(ad.size())) != 1) {
    internal::OpenSslFatal("AES-256-GCM seal");
  }
  size_t at = out.size();
  out.resize(at + plaintext.size() + kTagBytes);
  unsigned char* body = Bytes(out) + at;
  if (EVP_EncryptUpdate(ctx.get(), body, &len, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    internal::OpenSslFatal("AES-256-GCM seal");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), body + len, &final_len) != 1 ||
      static_cast<size_t>(len + final_len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, body + plaintext.size()) !=
          1) {
    internal::OpenSslFatal("AES-256-GCM seal");
  }
  return out;
}

Result<std::string> Open(const Kek& kek, const SealLabel& label, std::string_view sealed) {
  if (sealed.size() < kHeaderBytes + kTagBytes) {
    return InvalidArgument("not a sealed value: " + std::to_string(sealed.size()) + " bytes");
  }
  if (static_cast<unsigned char>(sealed[0]) != kVersion) {
    return InvalidArgument("sealed in format version " +
                           std::to_string(static_cast<unsigned char>(sealed[0])) +
                           ", which this version of Meridian cannot open");
  }
  std::string_view id = sealed.substr(1, kIdBytes);
  if (!ConstantTimeEquals(id, kek.id_)) {
    return Status(Code::kFailedPrecondition,
                  "sealed under the key-encryption key " + HexEncode(id) +
                      ", but this process has the key-encryption key " + kek.IdHex());
  }
  std::string_view header = sealed.substr(0, kHeaderBytes);
  std::string_view body = sealed.substr(kHeaderBytes, sealed.size() - kHeaderBytes - kTagBytes);
  std::string tag(sealed.substr(sealed.size() - kTagBytes));
  std::string key = DataKey(kek.bytes_, label);
  WipeOnExit wipe_key{&key};
  std::string ad = AssociatedData(header, label);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  std::string plaintext(body.size(), '\0');
  WipeOnExit wipe_plaintext{&plaintext};
  int len = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key),
                         Bytes(header.substr(1 + kIdBytes))) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(ad), static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), Bytes(plaintext), &len, Bytes(body),
                        static_cast<int>(body.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1) {
    internal::OpenSslFatal("AES-256-GCM open");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), Bytes(plaintext) + len, &final_len) != 1) {
    internal::OpenSslErrors();  // a failed tag check may leave errors queued; drop them
    return Unauthenticated("the sealed value of '" + std::string(label.record) +
                           "' does not authenticate: it was altered, or sealed for another "
                           "record or purpose");
  }
  return plaintext;  // moved out: wipe_plaintext then wipes nothing
}

std::optional<std::string> SealedKekId(std::string_view sealed) {
  if (sealed.size() < kHeaderBytes + kTagBytes ||
      static_cast<unsigned char>(sealed[0]) != kVersion) {
    return std::nullopt;
  }
  return HexEncode(sealed.substr(1, kIdBytes));
}

void Wipe(std::string& s) {
  OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace meridian::crypto
