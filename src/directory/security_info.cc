// Directory's security-info methods: the authentication methods a user registered, kept in the
// secret part of the user's record (directory/security_info.h).
#include "directory/security_info.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/directory.h"
#include "directory/records.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

constexpr char kMember[] = "securityInfo";

}  // namespace

SecurityInfo SecurityInfoOf(const Object& user) {
  SecurityInfo info;
  const json::value* v = user.secret.if_contains(kMember);
  if (!v || !v->is_object()) return info;
  const json::object& o = v->get_object();
  if (auto* seed = o.if_contains("totpSeed"); seed && seed->is_string()) {
    auto raw = Base64UrlDecode(seed->get_string());
    if (raw) info.totp_sealed_seed = std::move(*raw);
  }
  if (auto* step = o.if_contains("totpLastStep"); step && step->is_int64()) {
    info.totp_last_step = step->get_int64();
  }
  if (auto* state = o.if_contains("perUserMfaState"); state && state->is_string()) {
    info.per_user_mfa_state = std::string(state->get_string());
  }
  if (auto* codes = o.if_contains("recoveryCodes"); codes && codes->is_array()) {
    for (const auto& c : codes->get_array()) {
      if (c.is_string()) info.recovery_code_hashes.emplace_back(c.get_string());
    }
  }
  return info;
}

namespace {

json::object Encode(const SecurityInfo& info) {
  json::array codes;
  for (const auto& h : info.recovery_code_hashes) codes.emplace_back(h);
  return {{"totpSeed", Base64UrlEncode(info.totp_sealed_seed)},
          {"totpLastStep", info.totp_last_step},
          {"recoveryCodes", std::move(codes)},
          {"perUserMfaState", info.per_user_mfa_state}};
}

}  // namespace

Result<SecurityInfo> Directory::ReadSecurityInfo(const SecurityContext& ctx,
                                                 std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(Object user, Get(ctx, *FindType("user"), user_id));
  return SecurityInfoOf(user);
}

void Directory::SetMfaRequirement(const SecurityContext& ctx, std::string_view user_id,
                                  std::string state, WriteDone done) {
  if (state != "disabled" && state != "enabled" && state != "enforced") {
    return done(InvalidArgument("perUserMfaState must be disabled, enabled or enforced.",
                                "Request_BadRequest"));
  }
  ChangeUserForReset(
      ctx, user_id, "Update per-user multifactor authentication state",
      [&](Object* user, int64_t) {
        SecurityInfo info = SecurityInfoOf(*user);
        info.per_user_mfa_state = state;
        user->secret[kMember] = Encode(info);
        return Status::Ok();
      },
      [this, ctx, done](Result<store::Partition::Ack> ack) { done(Written(ctx, {}, ack)); });
}

Result<std::string> Directory::MfaRequirement(const SecurityContext& ctx,
                                              std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(Object user, ReadUserForReset(ctx, user_id));
  return SecurityInfoOf(user).per_user_mfa_state;
}

Result<Object> Directory::ReadUserForReset(const SecurityContext& ctx,
                                           std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  TenantKeys keys(ctx.tenant_id());
  Intent intent{authz::Action::kResetPassword, "user", AsciiLower(user_id), "Read"};
  MERIDIAN_ASSIGN_OR_RETURN(Decision d, DecideWrite(ctx, *view, keys, intent));
  MERIDIAN_RETURN_IF_ERROR(d.verdict);
  return ReadObject(*view, keys, "user", intent.id);
}

void Directory::ChangeUserForReset(const SecurityContext& ctx, std::string_view user_id,
                                   std::string activity,
                                   const std::function<Status(Object*, int64_t)>& change,
                                   Committed done) {
  TenantKeys keys(ctx.tenant_id());
  Intent intent{authz::Action::kResetPassword, "user", AsciiLower(user_id), std::move(activity)};
  Submit(
      ctx, intent,
      [&](const store::ReadView& view, const authz::Target&, proto::Op* op) -> Status {
        MERIDIAN_ASSIGN_OR_RETURN(Object user, ReadObject(view, keys, "user", intent.id));
        const Object before = user;
        MERIDIAN_RETURN_IF_ERROR(change(&user, op->time_ms()));
        return SetPut(op, "user", user, &before, intent.activity);
      },
      std::move(done));
}

void Directory::UpdateSecurityInfo(const SecurityContext& ctx, std::string_view user_id,
                                   std::string activity,
                                   std::function<Status(SecurityInfo*)> change, WriteDone done) {
  UpdateUserSecret(
      ctx, user_id, std::move(activity),
      [&](json::object* secret) -> Status {
        Object holder;
        holder.secret = *secret;
        SecurityInfo info = SecurityInfoOf(holder);
        MERIDIAN_RETURN_IF_ERROR(change(&info));
        (*secret)[kMember] = Encode(info);
        return Status::Ok();
      },
      std::move(done));
}

void Directory::UpdateUserSecret(const SecurityContext& ctx, std::string_view user_id,
                                 std::string activity,
                                 const std::function<Status(json::object*)>& change,
                                 WriteDone done) {
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  TenantKeys keys(ctx.tenant_id());
  (*p)->WriteAsync(
      [&](const store::ReadView& partition_view, proto::Op* op) -> Status {
        Stamp(ctx, op);
        store::TenantView view(partition_view, ctx.tenant_id());
        MERIDIAN_ASSIGN_OR_RETURN(Object user, ReadObject(view, keys, "user", user_id));
        const Object before = user;
        MERIDIAN_RETURN_IF_ERROR(change(&user.secret));
        return SetPut(op, "user", user, &before, activity);
      },
      [this, ctx, done = std::move(done)](Result<store::Partition::Ack> ack) {
        done(Written(ctx, {}, ack));
      });
}

void Directory::RegisterTotp(const SecurityContext& ctx, std::string_view user_id,
                             std::string sealed_seed, std::vector<std::string> recovery_code_hashes,
                             WriteDone done) {
  UpdateSecurityInfo(
      ctx, user_id, "User registered security info",
      [&](SecurityInfo* info) {
        // Registered once: a second registration (a stale page, another tab, someone who knows
        // the password) must not replace the authenticator the user has.
        if (!info->totp_sealed_seed.empty()) {
          return Status(Code::kFailedPrecondition, "An authenticator is registered already.");
        }
        info->totp_sealed_seed = std::move(sealed_seed);
        info->totp_last_step = 0;
        info->recovery_code_hashes = std::move(recovery_code_hashes);
        return Status::Ok();
      },
      std::move(done));
}

void Directory::UseTotpStep(const SecurityContext& ctx, std::string_view user_id, int64_t step,
                            WriteDone done) {
  UpdateSecurityInfo(
      ctx, user_id, "User signed in with an authenticator code",
      [step](SecurityInfo* info) {
        if (info->totp_sealed_seed.empty()) {
          return Status(Code::kFailedPrecondition, "No authenticator is registered.");
        }
        if (step <= info->totp_last_step) {
          return Status(Code::kFailedPrecondition,
                        "The code was used already; wait for the next one.", "AADSTS54001");
        }
        info->totp_last_step = step;
        return Status::Ok();
      },
      std::move(done));
}

void Directory::UseRecoveryCode(const SecurityContext& ctx, std::string_view user_id,
                                std::string code_hash, WriteDone done) {
  UpdateSecurityInfo(
      ctx, user_id, "User signed in with a recovery code",
      [&](SecurityInfo* info) {
        auto& codes = info->recovery_code_hashes;
        auto it = std::find(codes.begin(), codes.end(), code_hash);
        if (it == codes.end()) return NotFound("The recovery code is not valid.");
        codes.erase(it);
        return Status::Ok();
      },
      std::move(done));
}

}  // namespace meridian::directory
