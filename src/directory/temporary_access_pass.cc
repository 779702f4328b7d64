#include "directory/temporary_access_pass.h"

#include <boost/json.hpp>

#include "common/clock.h"
#include "common/encoding.h"
#include "crypto/secret.h"
#include "crypto/totp.h"
#include "directory/directory.h"
#include "directory/records.h"
#include "odata/filter.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

// Why the pass cannot (or can) sign in now.
std::string_view Reason(const json::object& stored, int64_t now_ms) {
  int64_t start = Int(stored, "start");
  if (now_ms < start) return "NotYetValid";
  if (now_ms >= start + Int(stored, "lifetimeInMinutes") * 60'000) return "Expired";
  if (Bool(stored, "isUsableOnce", false) && Bool(stored, "used", false)) return "OneTimeUsed";
  return "EnabledByPolicy";
}

}  // namespace

bool TapUsable(const json::object& stored, int64_t now_ms) {
  return Reason(stored, now_ms) == "EnabledByPolicy";
}

json::object TapMethod(const json::object& stored, int64_t now_ms) {
  std::string_view reason = Reason(stored, now_ms);
  return {{"@odata.type", "#microsoft.graph.temporaryAccessPassAuthenticationMethod"},
          {"id", stored.at("id")},
          {"temporaryAccessPass", nullptr},
          {"createdDateTime", FormatIso8601(Int(stored, "created"))},
          {"startDateTime", FormatIso8601(Int(stored, "start"))},
          {"lifetimeInMinutes", Int(stored, "lifetimeInMinutes")},
          {"isUsableOnce", Bool(stored, "isUsableOnce", false)},
          {"isUsable", reason == "EnabledByPolicy"},
          {"methodUsabilityReason", reason}};
}

Result<json::object> NewTap(const json::object& body, std::string_view id, std::string_view pass,
                            int64_t now_ms) {
  int64_t start = now_ms, lifetime = kTapDefaultLifetimeMinutes;
  bool once = false;
  for (const auto& [k, v] : body) {
    if (k == "startDateTime" && v.is_string()) {
      auto ms = odata::DateTimeMillis(v.get_string());
      if (!ms) return InvalidArgument("startDateTime is not a date and time.", "badRequest");
      if (*ms < now_ms - 60'000) {
        return InvalidArgument("startDateTime must not be in the past.", "badRequest");
      }
      start = std::max(*ms, now_ms);
    } else if (k == "lifetimeInMinutes" && v.is_int64()) {
      lifetime = v.get_int64();
      if (lifetime < kTapMinLifetimeMinutes || lifetime > kTapMaxLifetimeMinutes) {
        return InvalidArgument("lifetimeInMinutes must be between 10 and 43200.", "badRequest");
      }
    } else if (k == "isUsableOnce" && v.is_bool()) {
      once = v.get_bool();
    } else if (!v.is_null()) {
      return InvalidArgument("Property '" + std::string(k) + "' cannot be set here.",
                             "badRequest");
    }
  }
  return json::object{{"id", id},
                      {"hash", crypto::HashClientSecret(pass)},
                      {"created", now_ms},
                      {"start", start},
                      {"lifetimeInMinutes", lifetime},
                      {"isUsableOnce", once},
                      {"used", false}};
}

void Directory::IssueTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                         const json::object& body, WriteDone done) {
  // Drawn before the write lock: the op carries only its hash.
  std::string pass = crypto::Base32Encode(random_->Bytes(8)).substr(0, 12);
  std::string id = random_->Uuid();
  auto shown = std::make_shared<json::object>();
  ChangeUserForReset(
      ctx, user_id, "Create temporary access pass",
      [&](Object* user, int64_t now_ms) -> Status {
        if (auto* old = user->secret.if_contains(kTapMember);
            old && old->is_object() && TapUsable(old->get_object(), now_ms)) {
          return Status(Code::kAlreadyExists,
                        "The user already has a temporary access pass; delete it first.",
                        "badRequest");
        }
        MERIDIAN_ASSIGN_OR_RETURN(json::object tap, NewTap(body, id, pass, now_ms));
        *shown = TapMethod(tap, now_ms);
        (*shown)["temporaryAccessPass"] = pass;
        user->secret[kTapMember] = std::move(tap);
        return Status::Ok();
      },
      [this, ctx, shown, done](Result<store::Partition::Ack> ack) {
        Object method;
        method.data = std::move(*shown);
        done(Written(ctx, std::move(method), ack));
      });
}

Result<std::vector<json::object>> Directory::TemporaryAccessPasses(const SecurityContext& ctx,
                                                                   std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(Object user, ReadUserForReset(ctx, user_id));
  std::vector<json::object> out;
  if (auto* tap = user.secret.if_contains(kTapMember); tap && tap->is_object()) {
    out.push_back(TapMethod(tap->get_object(), clock_->NowMillis()));
  }
  return out;
}

void Directory::DeleteTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                          std::string_view method_id, WriteDone done) {
  ChangeUserForReset(
      ctx, user_id, "Delete temporary access pass",
      [&](Object* user, int64_t) -> Status {
        auto* tap = user->secret.if_contains(kTapMember);
        if (!tap || !tap->is_object() ||
            Str(tap->get_object(), "id") != AsciiLower(method_id)) {
          return NotFound("No temporary access pass '" + std::string(method_id) + "'.");
        }
        user->secret.erase(kTapMember);
        return Status::Ok();
      },
      [this, ctx, done](Result<store::Partition::Ack> ack) { done(Written(ctx, {}, ack)); });
}

}  // namespace meridian::directory
