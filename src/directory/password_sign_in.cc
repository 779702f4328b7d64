// Directory::SignInWithPassword: a password sign-in with smart lockout (directory/lockout.h).
#include <future>

#include "crypto/password.h"
#include "directory/directory.h"
#include "directory/records.h"

namespace meridian::directory {
namespace json = boost::json;
namespace {

using Done = std::function<void(Result<PasswordSignIn>)>;

Status InvalidCredentials() {
  return Status(Code::kUnauthenticated,
                "Error validating credentials due to invalid username or password.", "AADSTS50126");
}

Status Locked() {
  return Status(Code::kUnauthenticated,
                "The account is locked because the user tried to sign in too many times with an "
                "incorrect user ID or password.",
                "AADSTS50053");
}

}  // namespace

void Directory::SignInWithPassword(const SecurityContext& ctx, std::string_view login,
                                   std::string_view password, Done done) {
  std::string handle = LockoutHandle(login);
  auto record = ReadGrant(ctx, kLockoutGrant, handle);
  if (!record.ok()) return done(record.status());
  if (LockedUntil(*record, clock_->NowMillis())) return done(Locked());
  // A name nobody has is checked against the decoy: the same hash, then the same write.
  std::optional<Object> user;
  if (login.find('@') != std::string_view::npos) {
    auto found = Lookup(ctx, *FindType("user"), login);
    if (found.ok()) {
      user = std::move(*found);
    } else if (found.status().code() != Code::kNotFound) {
      return done(found.status());
    }
  }
  const json::value* stored = user ? user->secret.if_contains("passwordHash") : nullptr;
  std::string hash =
      stored && stored->is_string() ? std::string(stored->get_string()) : decoy_hash_;
  Result<bool> matched = false;
  auto check = [&] { matched = crypto::VerifyPassword(password, hash); };
  if (options_.cpu_gate) {
    Status gated = options_.cpu_gate->Run(ctx.tenant_id(), check);
    if (!gated.ok()) return done(gated);
  } else {
    check();
  }
  if (!matched.ok()) return done(Internal("a stored password hash is malformed"));
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
  in.stored_hash = std::move(hash);
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

Result<PasswordSignIn> Directory::SignInWithPassword(const SecurityContext& ctx,
                                                     std::string_view login,
                                                     std::string_view password) {
  std::promise<Result<PasswordSignIn>> promise;
  std::future<Result<PasswordSignIn>> future = promise.get_future();
  SignInWithPassword(ctx, login, password,
                     [&promise](Result<PasswordSignIn> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace meridian::directory
