#include "replication/replica_token.h"

#include <charconv>
#include <vector>

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::replication {
namespace {

std::string Mac(std::string_view body, std::string_view key) {
  return Base64UrlEncode(crypto::HmacSha256(key, body).substr(0, 16));
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string EncodeReplicaToken(const ReplicaToken& t, std::string_view key) {
  std::string body = "1." + t.partition + "." + std::to_string(t.epoch) + "." + std::to_string(t.lsn);
  return body + "." + Mac(body, key);
}

Result<ReplicaToken> DecodeReplicaToken(std::string_view text, std::string_view key) {
  auto bad = [] { return InvalidArgument("invalid replica token"); };
  if (text.size() > 256) return bad();
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  if (parts.size() != 5 || parts[0] != "1" || parts[1].empty()) return bad();
  ReplicaToken t;
  t.partition = std::string(parts[1]);
  if (!ParseU64(parts[2], &t.epoch) || !ParseU64(parts[3], &t.lsn)) return bad();
  std::string_view body = text.substr(0, text.size() - parts[4].size() - 1);
  if (!crypto::ConstantTimeEquals(Mac(body, key), parts[4])) return bad();
  return t;
}

}  // namespace meridian::replication
