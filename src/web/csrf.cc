#include "web/csrf.h"

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::web {

std::string CsrfToken(std::string_view key, std::string_view session, std::string_view purpose) {
  // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
  std::string data = std::to_string(session.size()) + ":" + std::string(session) + "|" +
                     std::string(purpose);
  return Base64UrlEncode(crypto::HmacSha256(key, data));
}

bool CheckCsrf(std::string_view key, std::string_view session, std::string_view purpose,
               std::string_view token) {
  if (session.empty() || token.empty()) return false;
  return crypto::ConstantTimeEquals(CsrfToken(key, session, purpose), token);
}

}  // namespace meridian::web
