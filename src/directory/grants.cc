#include "directory/grants.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "crypto/sha.h"

namespace meridian::directory {
namespace json = boost::json;

std::string GrantHandle(std::string_view secret) { return Base64UrlEncode(crypto::Sha256(secret)); }

Status CheckGrantName(std::string_view kind, std::string_view handle) {
  if (kind != kAuthorizationCodeGrant && kind != kDeviceCodeGrant && kind != kRefreshTokenGrant &&
      kind != kClientAssertionGrant && kind != kLockoutGrant && kind != kUserCodeGrant &&
      kind != kSessionGrant && kind != kPendingSignInGrant &&
      kind != kPushedRequestGrant) {
    return InvalidArgument("unknown kind of grant '" + std::string(kind) + "'");
  }
  auto raw = Base64UrlDecode(handle);
  if (handle.size() != 43 || !raw || raw->size() != 32) {
    return InvalidArgument("a grant handle is the base64url SHA-256 of a secret");
  }
  return Status::Ok();
}

std::string EncodeGrant(const json::object& data, int64_t expires_ms, uint64_t version) {
  return json::serialize(
      json::object{{"v", static_cast<int64_t>(version)}, {"e", expires_ms}, {"d", data}});
}

Result<std::optional<Grant>> DecodeGrant(std::string_view kind, std::string_view handle,
                                         const std::optional<std::string>& stored, int64_t now_ms) {
  if (!stored) return std::optional<Grant>();
  boost::system::error_code ec;
  json::value v = json::parse(*stored, ec);
  const json::object* o = !ec ? v.if_object() : nullptr;
  const json::value* version = o ? o->if_contains("v") : nullptr;
  const json::value* expires = o ? o->if_contains("e") : nullptr;
  const json::value* data = o ? o->if_contains("d") : nullptr;
  if (!version || !version->is_int64() || version->get_int64() <= 0 || !expires ||
      !expires->is_int64() || !data || !data->is_object()) {
    return Internal("corrupt grant record " + std::string(kind) + "/" + std::string(handle));
  }
  if (expires->get_int64() <= now_ms) return std::optional<Grant>();
  return std::optional<Grant>(Grant{std::string(kind), std::string(handle), data->get_object(),
                                    expires->get_int64(),
                                    static_cast<uint64_t>(version->get_int64())});
}

void CreateGrant(GrantStore* store, const SecurityContext& ctx, std::string_view kind,
                 std::string_view handle, boost::json::object data, int64_t lifetime_ms,
                 GrantDone done) {
  std::string what(kind);
  store->UpdateGrant(
      ctx, kind, handle,
      [data = std::move(data), lifetime_ms, what](const std::optional<Grant>& current,
                                                  int64_t now) -> Result<GrantChange> {
        if (current) return Internal("the secret of a new " + what + " grant was drawn twice");
        return GrantChange{data, now + lifetime_ms};
      },
      std::move(done));
}

}  // namespace meridian::directory
