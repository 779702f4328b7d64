// Directory's password writes that are not an administrator's: the hash of a body's password
// (made before the write lock), the re-hash at sign-in, and the user's own change of a password
// that must change, at an interactive sign-in.
#include <future>

#include "common/encoding.h"
#include "crypto/password.h"
#include "crypto/sha.h"
#include "directory/directory.h"
#include "directory/password_policy.h"
#include "directory/records.h"
#include "store/keys.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

// Whether `user`'s stored password hash is `hash`.
bool HashIs(const Object& user, std::string_view hash) {
  auto* stored = user.secret.if_contains("passwordHash");
  return stored && stored->is_string() && crypto::ConstantTimeEquals(stored->get_string(), hash);
}

}  // namespace

// Checks `password` against the names the policy refuses: those of `user` (its Graph properties
// as the write will store them) and the organization's, read from `view`. (CheckPasswordPolicy
// checks the rest, which needs no reads, before the lock.)
Status Directory::CheckPasswordNamesOf(const store::ReadView& view, const TenantKeys& keys,
                                       const json::object& user, std::string_view password) {
  MERIDIAN_ASSIGN_OR_RETURN(auto org_raw, view.Get(keys.Organization()));
  if (!org_raw) return Internal("tenant has no organization record");
  MERIDIAN_ASSIGN_OR_RETURN(json::object org, ParseObject(*org_raw, "organization"));
  return CheckPasswordNames(password, PasswordOwnerOf(user, Str(org, "displayName")));
}

Status Directory::CheckPasswordOf(const store::ReadView& view, const TenantKeys& keys,
                                  const json::object& user) {
  auto* profile = user.if_contains("passwordProfile");
  if (!profile || !profile->is_object()) return Status::Ok();
  auto* pw = profile->get_object().if_contains("password");
  if (!pw || !pw->is_string()) return Status::Ok();
  return CheckPasswordNamesOf(view, keys, user, pw->get_string());
}

// The password in a body's passwordProfile, checked against the policy (what needs no reads; the
// names are checked under the lock, CheckPasswordOf) and hashed here, before
// the partition's write lock: a hash takes ~100 ms of CPU and must never hold up other writers.
// It runs through the CPU gate, which keeps hashing off at least one core and fair by tenant.
// `checked` is the body after ApplyBody (schema names). nullopt when it sets no password. A
// caller that cannot make the change gets "" (no hash is spent on it); the write itself then
// refuses it, audited, under the lock.
Result<std::optional<std::string>> Directory::HashPasswordOf(const SecurityContext& ctx,
                                                             const Intent& intent,
                                                             const TypeSchema& type,
                                                             const json::object& checked) {
  if (type.type != "user") return std::optional<std::string>();
  auto* profile = checked.if_contains("passwordProfile");
  if (!profile || !profile->is_object()) return std::optional<std::string>();
  auto* pw = profile->get_object().if_contains("password");
  if (!pw || !pw->is_string()) return std::optional<std::string>();
  MERIDIAN_RETURN_IF_ERROR(CheckPasswordPolicy(pw->get_string()));
  {
    MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
    auto view = TenantRead(p, ctx, true);
    MERIDIAN_ASSIGN_OR_RETURN(Decision d,
                              DecideWrite(ctx, *view, TenantKeys(ctx.tenant_id()), intent));
    if (!d.verdict.ok()) return std::optional<std::string>(std::string());
  }
  std::string salt = random_->Bytes(crypto::kPasswordSaltBytes);
  Result<std::string> hash = Internal("the password was not hashed");
  auto compute = [&] {
    hash = crypto::HashPassword(pw->get_string(), salt, options_.password_hashing);
  };
  if (options_.cpu_gate) {
    MERIDIAN_RETURN_IF_ERROR(options_.cpu_gate->Run(ctx.tenant_id(), compute));
  } else {
    compute();
  }
  MERIDIAN_RETURN_IF_ERROR(hash.status());
  return std::optional<std::string>(std::move(hash).value());
}

void Directory::UpgradePasswordHash(const SecurityContext& ctx, std::string_view user_id,
                                    std::string new_hash, std::string expected_old_hash,
                                    std::function<void(Result<bool>)> done) {
  if (crypto::NeedsRehash(new_hash, options_.password_hashing)) {
    return done(InvalidArgument("the new password hash is not one the configured hashing (" +
                                options_.password_hashing.Describe() + ") would keep"));
  }
  ChangeWhileHashIs(
      ctx, user_id, std::move(expected_old_hash), "Update user password hash",
      [&](const store::ReadView&, const TenantKeys&, Object* user) {
        user->secret["passwordHash"] = new_hash;
        return Status::Ok();
      },
      [done = std::move(done)](Result<store::Partition::Ack> ack, bool mismatched) {
        if (ack.ok()) return done(true);
        if (mismatched) return done(false);
        done(ack.status());
      });
}

Result<bool> Directory::UpgradePasswordHash(const SecurityContext& ctx, std::string_view user_id,
                                            std::string new_hash, std::string expected_old_hash) {
  std::promise<Result<bool>> promise;
  std::future<Result<bool>> future = promise.get_future();
  UpgradePasswordHash(ctx, user_id, std::move(new_hash), std::move(expected_old_hash),
                      [&promise](Result<bool> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Directory::ChangePasswordAtSignIn(const SecurityContext& ctx, std::string_view user_id,
                                       std::string expected_old_hash, std::string new_password,
                                       std::function<void(Status)> done) {
  Status policy = CheckPasswordPolicy(new_password);
  if (!policy.ok()) return done(policy);
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  std::string salt = random_->Bytes(crypto::kPasswordSaltBytes);
  Result<bool> same = false;
  Result<std::string> hash = Internal("the password was not hashed");
  auto compute = [&] {
    same = crypto::VerifyPassword(new_password, expected_old_hash);
    if (same.ok() && !*same) hash = crypto::HashPassword(new_password, salt, options_.password_hashing);
  };
  if (options_.cpu_gate) {
    Status gated = options_.cpu_gate->Run(ctx.tenant_id(), compute);
    if (!gated.ok()) return done(gated);
  } else {
    compute();
  }
  if (!same.ok()) return done(Internal("a stored password hash is malformed"));
  if (*same) {
    return done(InvalidArgument("The new password must differ from the current one.",
                                "Request_BadRequest"));
  }
  if (!hash.ok()) return done(hash.status());
  ChangeWhileHashIs(
      ctx, user_id, std::move(expected_old_hash), "Change user password",
      [&](const store::ReadView& view, const TenantKeys& keys, Object* user) {
        MERIDIAN_RETURN_IF_ERROR(CheckPasswordNamesOf(view, keys, user->data, new_password));
        user->secret["passwordHash"] = *hash;
        user->secret["forceChangePasswordNextSignIn"] = false;
        return Status::Ok();
      },
      [done = std::move(done)](Result<store::Partition::Ack> ack, bool mismatched) {
        if (mismatched) {
          return done(Status(Code::kFailedPrecondition,
                             "The password was changed meanwhile; sign in again."));
        }
        done(ack.status());
      });
}

void Directory::ChangeWhileHashIs(
    const SecurityContext& ctx, std::string_view user_id, std::string expected_hash,
    std::string activity,
    const std::function<Status(const store::ReadView&, const TenantKeys&, Object*)>& change,
    std::function<void(Result<store::Partition::Ack>, bool mismatched)> done) {
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status(), false);
  TenantKeys keys(ctx.tenant_id());
  std::string id = AsciiLower(user_id);
  auto mismatched = std::make_shared<bool>(false);  // set by the build: the compare failed
  (*p)->WriteAsync(
      [&](const store::ReadView& partition_view, proto::Op* op) -> Status {
        Stamp(ctx, op);
        store::TenantView view(partition_view, ctx.tenant_id());
        MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, "user", id));
        if (!HashIs(o, expected_hash)) {
          *mismatched = true;
          return Status(Code::kFailedPrecondition, "the password hash changed meanwhile");
        }
        const Object before = o;
        MERIDIAN_RETURN_IF_ERROR(change(view, keys, &o));
        return SetPut(op, "user", o, &before, activity);
      },
      [mismatched, done = std::move(done)](Result<store::Partition::Ack> ack) {
        done(std::move(ack), *mismatched);
      });
}

Status Directory::ChangePasswordAtSignIn(const SecurityContext& ctx, std::string_view user_id,
                                         std::string expected_old_hash, std::string new_password) {
  std::promise<Status> promise;
  std::future<Status> future = promise.get_future();
  ChangePasswordAtSignIn(ctx, user_id, std::move(expected_old_hash), std::move(new_password),
                         [&promise](Status s) { promise.set_value(std::move(s)); });
  return future.get();
}

}  // namespace meridian::directory
