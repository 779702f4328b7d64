#include "crypto/totp.h"

#include <openssl/evp.h>

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string HmacSha1(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t len = 0;
  static const char kEmpty = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA1", nullptr, key.empty() ? &kEmpty : key.data(),
                key.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
                sizeof(out), &len) == nullptr) {
    internal::OpenSslFatal("HMAC-SHA1");
  }
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string UriEncode(std::string_view s) {
  return boost::urls::encode(s, boost::urls::unreserved_chars);
}

}  // namespace

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> Base32Decode(std::string_view text) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=' || c == ' ') continue;
    char u = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    const char* at = std::char_traits<char>::find(kAlphabet, 32, u);
    if (!at) return std::nullopt;
    buffer = (buffer << 5) | static_cast<uint32_t>(at - kAlphabet);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string NewTotpSecret(Random& random) { return random.Bytes(20); }

std::string TotpCode(std::string_view secret, int64_t step, int digits) {
  std::string counter;
  PutBigEndian64(&counter, static_cast<uint64_t>(step));
  std::string mac = HmacSha1(secret, counter);
  int offset = static_cast<unsigned char>(mac.back()) & 0x0f;
  uint32_t value = (static_cast<uint32_t>(static_cast<unsigned char>(mac[offset])) & 0x7f) << 24 |
                   static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 1])) << 16 |
                   static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 2])) << 8 |
                   static_cast<uint32_t>(static_cast<unsigned char>(mac[offset + 3]));
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code = std::to_string(value % modulus);
  return std::string(static_cast<size_t>(digits) - code.size(), '0') + code;
}

std::optional<int64_t> VerifyTotp(std::string_view secret, std::string_view code, int64_t now_ms,
                                  int64_t last_used_step, int window) {
  if (code.size() != static_cast<size_t>(kTotpDigits)) return std::nullopt;
  int64_t now_step = now_ms / 1000 / kTotpStepSeconds;
  std::optional<int64_t> found;
  for (int64_t step = now_step - window; step <= now_step + window; ++step) {
    bool match = ConstantTimeEquals(TotpCode(secret, step), code);
    if (match && step > last_used_step && !found) found = step;
  }
  return found;
}

std::string TotpUri(std::string_view issuer, std::string_view account, std::string_view secret) {
  return "otpauth://totp/" + UriEncode(issuer) + ":" + UriEncode(account) +
         "?secret=" + Base32Encode(secret) + "&issuer=" + UriEncode(issuer) +
         "&algorithm=SHA1&digits=" + std::to_string(kTotpDigits) +
         "&period=" + std::to_string(kTotpStepSeconds);
}

std::vector<std::string> NewRecoveryCodes(Random& random, int n) {
  std::vector<std::string> codes;
  for (int i = 0; i < n; ++i) {
    std::string raw = Base32Encode(random.Bytes(10));  // 16 characters
    codes.push_back(raw.substr(0, 4) + "-" + raw.substr(4, 4) + "-" + raw.substr(8, 4) + "-" +
                    raw.substr(12, 4));
  }
  return codes;
}

std::string RecoveryCodeHash(std::string_view code) {
  std::string canonical;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    canonical.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
  }
  return "sha256$" + Base64UrlEncode(Sha256(canonical));
}

}  // namespace meridian::crypto
