// Directory's sign-in checks: something the user knows (a password, a Temporary Access Pass),
// under smart lockout (directory/lockout.h).
#include <future>

#include "crypto/password.h"
#include "crypto/secret.h"
#include "directory/directory.h"
#include "directory/records.h"
#include "directory/temporary_access_pass.h"

namespace meridian::directory {
namespace json = boost::json;
namespace {

using Done = std::function<void(Result<PasswordSignIn>)>;

Status InvalidCredentials() {
  return Status(Code::kUnauthenticated,
                "Error validating credentials due to invalid username or password.",
                "AADSTS50126");
}

Status Locked() {
  return Status(Code::kUnauthenticated,
                "The account is locked because the user tried to sign in too many times with an "
                "incorrect user ID or password.",
                "AADSTS50053");
}

const json::object* Member(const Object& user, std::string_view name) {
  const json::value* v = user.secret.if_contains(name);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

}  // namespace

void Directory::SignInWithSecret(const SecurityContext& ctx, std::string_view login,
                                 const std::function<Result<bool>(const Object* user)>& check,
                                 Done done) {
  std::string handle = LockoutHandle(login);
  auto record = ReadGrant(ctx, kLockoutGrant, handle);
  if (!record.ok()) return done(record.status());
  if (LockedUntil(*record, clock_->NowMillis())) return done(Locked());
  std::optional<Object> user;
  if (login.find('@') != std::string_view::npos) {
    auto found = Lookup(ctx, *FindType("user"), login);
    if (found.ok()) {
      user = std::move(*found);
    } else if (found.status().code() != Code::kNotFound) {
      return done(found.status());
    }
  }
  Result<bool> matched = check(user ? &*user : nullptr);
  if (!matched.ok()) return done(matched.status());
  if (!user || !*matched) {
    LockoutPolicy policy = options_.lockout;
    return UpdateGrant(
        ctx, kLockoutGrant, handle,
        [policy](const std::optional<Grant>& current, int64_t now) -> Result<GrantChange> {
          return AfterFailure(current, now, policy);
        },
        [this, done](Result<Grant> counted) {
          if (!counted.ok()) return done(counted.status());
          // The failure that reached the threshold is told the name is locked now.
          done(LockedUntil(*counted, clock_->NowMillis()) ? Locked() : InvalidCredentials());
        });
  }
  auto enabled = user->data.if_contains("accountEnabled");
  if (enabled && enabled->is_bool() && !enabled->get_bool()) {
    return done(Status(Code::kUnauthenticated, "The user account is disabled.", "AADSTS50057"));
  }
  PasswordSignIn in;
  auto force = user->secret.if_contains("forceChangePasswordNextSignIn");
  in.must_change_password = force && force->is_bool() && force->get_bool();
  in.user = std::move(*user);
  if (!*record || !HasFailures(**record)) return done(std::move(in));
  // The count starts again after a success; how often the name was locked is kept (until the
  // record is forgotten), so the next lock is still longer.
  UpdateGrant(
      ctx, kLockoutGrant, handle,
      [](const std::optional<Grant>& current, int64_t) -> Result<GrantChange> {
        if (!current) return GrantChange{};
        return AfterSuccess(*current);
      },
      [in = std::move(in), done](Result<Grant> reset) mutable {
        if (!reset.ok()) return done(reset.status());
        done(std::move(in));
      });
}

void Directory::SignInWithPassword(const SecurityContext& ctx, std::string_view login,
                                   std::string_view password, Done done) {
  // A name nobody has is checked against the decoy: the same hash, then the same write.
  auto hash = std::make_shared<std::string>();
  // The password hashed again with the configured parameters, when the stored hash is weaker:
  // made here, on the calling thread, since `done` may run where a hash must not (a cluster
  // node's completions thread).
  auto rehashed = std::make_shared<std::string>();
  auto check = [&](const Object* user) -> Result<bool> {
    const json::value* stored = user ? user->secret.if_contains("passwordHash") : nullptr;
    *hash = stored && stored->is_string() ? std::string(stored->get_string()) : decoy_hash_;
    Result<bool> matched = false;
    bool weak = false;
    std::string salt = random_->Bytes(16);
    auto verify = [&] {
      matched = crypto::VerifyPassword(password, *hash);
      weak =
          user && matched.ok() && *matched && crypto::NeedsRehash(*hash, options_.password_hashing);
      if (!weak) return;
      auto again = crypto::HashPassword(password, salt, options_.password_hashing);
      if (again.ok()) *rehashed = std::move(*again);  // else the sign-in stands unchanged
    };
    if (options_.cpu_gate) {
      MERIDIAN_RETURN_IF_ERROR(options_.cpu_gate->Run(ctx.tenant_id(), verify));
    } else {
      verify();
    }
    if (!matched.ok()) return Internal("a stored password hash is malformed");
    return *matched && user;
  };
  SignInWithSecret(ctx, login, check,
                   [this, ctx, hash, rehashed, done](Result<PasswordSignIn> in) mutable {
                     if (!in.ok()) return done(std::move(in));
                     in->stored_hash = *hash;
                     if (rehashed->empty()) return done(std::move(in));
                     // Stored only if the hash that matched is still the stored one.
                     std::string id = in->user.id;
                     auto signed_in = std::make_shared<PasswordSignIn>(std::move(*in));
                     UpgradePasswordHash(ctx, id, *rehashed, *hash,
                                         [signed_in, rehashed, done](Result<bool> written) {
                                           if (written.ok() && *written) {
                                             signed_in->stored_hash = *rehashed;
                                           }
                                           done(std::move(*signed_in));
                                         });
                   });
}

Result<PasswordSignIn> Directory::SignInWithPassword(const SecurityContext& ctx,
                                                     std::string_view login,
                                                     std::string_view password) {
  std::promise<Result<PasswordSignIn>> promise;
  std::future<Result<PasswordSignIn>> future = promise.get_future();
  SignInWithPassword(ctx, login, password,
                     [&promise](Result<PasswordSignIn> r) { promise.set_value(std::move(r)); });
  return future.get();
}

void Directory::SignInWithTemporaryAccessPass(const SecurityContext& ctx, std::string_view login,
                                              std::string_view pass, Done done) {
  int64_t now = clock_->NowMillis();
  auto check = [&](const Object* user) -> Result<bool> {
    const json::object* tap = user ? Member(*user, kTapMember) : nullptr;
    auto* hash = tap ? tap->if_contains("hash") : nullptr;
    bool matched = crypto::VerifyClientSecret(
        pass, hash && hash->is_string() ? std::string_view(hash->get_string()) : decoy_hash_);
    return matched && TapUsable(*tap, now);
  };
  SignInWithSecret(ctx, login, check, [this, ctx, done](Result<PasswordSignIn> in) {
    if (!in.ok()) return done(std::move(in));
    const json::object* tap = Member(in->user, kTapMember);
    if (!tap || !tap->contains("isUsableOnce") || !tap->at("isUsableOnce").as_bool()) {
      in->must_change_password = false;  // a pass is not a password
      return done(std::move(in));
    }
    // Spent under the write lock: of two sign-ins with one pass, one finds it used.
    std::string id = in->user.id;
    auto signed_in = std::make_shared<PasswordSignIn>(std::move(*in));
    UpdateUserSecret(
        ctx, id, "User signed in with a temporary access pass",
        [](json::object* secret) -> Status {
          auto* t = secret->if_contains(kTapMember);
          if (!t || !t->is_object() || t->get_object().at("used").as_bool()) {
            return Status(Code::kUnauthenticated, "The temporary access pass was used already.",
                          "AADSTS50126");
          }
          t->get_object()["used"] = true;
          return Status::Ok();
        },
        [signed_in, done](Result<WriteResult> spent) {
          if (!spent.ok()) return done(spent.status());
          signed_in->must_change_password = false;
          done(std::move(*signed_in));
        });
  });
}

}  // namespace meridian::directory
