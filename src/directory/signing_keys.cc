#include "directory/signing_keys.h"

#include <algorithm>
#include <tuple>

#include "directory/state_machine.h"
#include "store/keys.h"

namespace meridian::directory {

int64_t SignsFrom(const proto::SigningKey& key) {
  return key.signs_from_ms() != 0 ? key.signs_from_ms() : key.created_ms();
}

bool SigningKeyBefore(const proto::SigningKey& a, const proto::SigningKey& b) {
  return std::make_tuple(SignsFrom(a), a.created_ms(), std::string_view(a.kid())) <
         std::make_tuple(SignsFrom(b), b.created_ms(), std::string_view(b.kid()));
}

Result<std::vector<proto::SigningKey>> ReadSigningKeys(const store::ReadView& view) {
  std::vector<proto::SigningKey> keys;
  std::string prefix = GlobalSigningKeyPrefix();
  bool corrupt = false;
  MERIDIAN_RETURN_IF_ERROR(
      view.Scan(prefix, store::PrefixEnd(prefix), false, [&](std::string_view, std::string_view v) {
        proto::SigningKey k;
        if (!k.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
          corrupt = true;
          return false;
        }
        keys.push_back(std::move(k));
        return true;
      }));
  if (corrupt) return Internal("a stored token-signing key cannot be decoded");
  std::sort(keys.begin(), keys.end(), SigningKeyBefore);
  return keys;
}

Status ApplySigningKey(const proto::SigningKey& op, store::WriteContext* ctx) {
  std::string key = GlobalSigningKeyPrefix() + op.kid();
  if (op.seals_stored()) {
    MERIDIAN_ASSIGN_OR_RETURN(auto raw, ctx->Get(key));
    if (!raw) return NotFound("no signing key " + op.kid() + " to seal");
    proto::SigningKey stored;
    if (!stored.ParseFromString(*raw)) return Internal("signing key " + op.kid() + " is corrupt");
    if (stored.private_pem().empty()) {
      return Status(Code::kFailedPrecondition, "signing key " + op.kid() + " is sealed already");
    }
    if (op.sealed_private_key().empty() || !op.private_pem().empty()) {
      return InvalidArgument("sealing signing key " + op.kid() +
                             " needs its sealed key and nothing in clear");
    }
    stored.clear_private_pem();
    stored.set_sealed_private_key(op.sealed_private_key());
    ctx->Put(key, stored.SerializeAsString());
    return Status::Ok();
  }
  if (op.has_follows_kid()) {
    MERIDIAN_ASSIGN_OR_RETURN(auto existing, ctx->Get(key));
    if (existing) return AlreadyExists("signing key " + op.kid() + " exists");
    MERIDIAN_ASSIGN_OR_RETURN(auto keys, ReadSigningKeys(*ctx));
    std::string newest = keys.empty() ? "" : keys.back().kid();
    if (newest != op.follows_kid()) {
      return Status(Code::kFailedPrecondition, "the newest signing key is '" + newest + "', not '" +
                                                   op.follows_kid() +
                                                   "': another process added a key");
    }
  }
  ctx->Put(key, op.SerializeAsString());
  return Status::Ok();
}

}  // namespace meridian::directory
