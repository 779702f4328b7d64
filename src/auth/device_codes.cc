#include "auth/device_codes.h"

#include <boost/json.hpp>

#include "auth/oauth_errors.h"
#include "common/encoding.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Grant;
using directory::GrantChange;
using directory::GrantHandle;
using directory::kDeviceCodeGrant;
using directory::kUserCodeGrant;
using directory::Int;
using directory::Str;
using directory::StringArray;
using directory::Strings;

namespace {

// RFC 8628 section 6.1's suggestion: consonants only (no vowels, so no words), 8 of them.
constexpr std::string_view kUserCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ";

Status Polled(std::string error, std::string why) {
  return Status(Code::kUnauthenticated, std::move(why), std::move(error));
}

DeviceApproval ApprovalOf(const json::object& d) {
  return {Str(d, "client"), Str(d, "scope"), Str(d, "user"), Int(d, "authTime"),
          Strings(d, "amr")};
}

}  // namespace

DeviceCodes::DeviceCodes(directory::GrantStore* store, Random* random)
    : store_(store), random_(random) {}

std::string DeviceCodes::NormalizeUserCode(std::string_view code) {
  std::string letters;
  for (char c : code) {
    if (c == '-' || c == ' ') continue;
    char u = static_cast<char>(toupper(static_cast<unsigned char>(c)));
    if (kUserCodeAlphabet.find(u) == std::string_view::npos) return "";
    letters.push_back(u);
  }
  if (letters.size() != 8) return "";
  return letters.substr(0, 4) + "-" + letters.substr(4);
}

void DeviceCodes::Start(const directory::SecurityContext& ctx, std::string client_id,
                        std::string scope, std::function<void(Result<DeviceAuthorization>)> done) {
  DeviceAuthorization auth;
  auth.device_code = Base64UrlEncode(random_->Bytes(32));
  std::string letters;
  while (letters.size() < 8) {
    unsigned char b = static_cast<unsigned char>(random_->Bytes(1)[0]);
    if (b < 240) letters.push_back(kUserCodeAlphabet[b % kUserCodeAlphabet.size()]);  // unbiased
  }
  auth.user_code = NormalizeUserCode(letters);
  std::string device = GrantHandle(auth.device_code);
  json::object record{
      {"client", client_id}, {"scope", scope}, {"state", "pending"}, {"lastPoll", 0}};
  directory::CreateGrant(
      store_, ctx, kDeviceCodeGrant, device, std::move(record), kDeviceCodeLifetimeMs,
      [this, ctx, device, auth, done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        store_->UpdateGrant(
            ctx, kUserCodeGrant, GrantHandle(auth.user_code),
            [device, expires = g->expires_ms](const std::optional<Grant>& current,
                                              int64_t) -> Result<GrantChange> {
              if (current) {
                return Status(Code::kUnavailable, "A user code collided; ask for another.");
              }
              return GrantChange{json::object{{"device", device}}, expires};
            },
            [auth, done](Result<Grant> u) {
              if (!u.ok()) return done(u.status());
              done(auth);
            });
      });
}

void DeviceCodes::Describe(const directory::SecurityContext& ctx, std::string_view user_code,
                           std::function<void(Result<DeviceApproval>)> done) {
  std::string code = NormalizeUserCode(user_code);
  if (code.empty()) return done(NotFound("That code is not valid."));
  auto link = store_->ReadGrant(ctx, kUserCodeGrant, GrantHandle(code));
  if (!link.ok()) return done(link.status());
  if (!*link) return done(NotFound("That code is not valid, or has expired."));
  auto device = store_->ReadGrant(ctx, kDeviceCodeGrant, Str((*link)->data, "device"));
  if (!device.ok()) return done(device.status());
  if (!*device || Str((*device)->data, "state") != "pending") {
    return done(NotFound("That code is not valid, or has expired."));
  }
  done(ApprovalOf((*device)->data));
}

void DeviceCodes::Answer(const directory::SecurityContext& ctx, std::string_view user_code,
                         bool approve, DeviceApproval signed_in, std::function<void(Status)> done) {
  std::string code = NormalizeUserCode(user_code);
  if (code.empty()) return done(NotFound("That code is not valid."));
  // The user code is spent first: of two answers to one code, one goes on.
  auto device = std::make_shared<std::string>();
  store_->UpdateGrant(
      ctx, kUserCodeGrant, GrantHandle(code),
      [device](const std::optional<Grant>& current, int64_t) -> Result<GrantChange> {
        if (!current) return NotFound("That code is not valid, or has expired.");
        *device = Str(current->data, "device");
        return GrantChange{};
      },
      [this, ctx, device, approve, signed_in, done = std::move(done)](Result<Grant> spent) {
        if (!spent.ok()) return done(spent.status());
        store_->UpdateGrant(
            ctx, kDeviceCodeGrant, *device,
            [approve, signed_in](const std::optional<Grant>& current,
                                 int64_t) -> Result<GrantChange> {
              if (!current || Str(current->data, "state") != "pending") {
                return NotFound("That code is not valid, or has expired.");
              }
              json::object d = current->data;
              d["state"] = approve ? "approved" : "denied";
              if (approve) {
                d["user"] = signed_in.user_id;
                d["authTime"] = signed_in.auth_time_ms;
                d["amr"] = StringArray(signed_in.amr);
              }
              return GrantChange{std::move(d), current->expires_ms};
            },
            [done](Result<Grant> answered) { done(answered.status()); });
      });
}

void DeviceCodes::Poll(const directory::SecurityContext& ctx, std::string_view device_code,
                       std::string_view client_id,
                       std::function<void(Result<DeviceApproval>)> done) {
  auto raw = Base64UrlDecode(device_code);
  if (!raw || raw->size() != 32)
    return done(InvalidGrant("The device code is malformed."));
  // A poll that only records its time reports its error once the time is written.
  auto pending = std::make_shared<Status>(Status::Ok());
  std::string client(client_id);
  store_->UpdateGrant(
      ctx, kDeviceCodeGrant, GrantHandle(device_code),
      [client, pending](const std::optional<Grant>& current, int64_t now) -> Result<GrantChange> {
        if (!current) {
          return Polled("expired_token", "The device code has expired; start again.");
        }
        json::object d = current->data;
        if (Str(d, "client") != client) {
          return InvalidGrant("The device code was issued to another client.");
        }
        std::string state = Str(d, "state");
        if (state == "denied") return Polled("access_denied", "The user declined.");
        if (state == "redeemed") {
          return InvalidGrant("The device code was redeemed already.");
        }
        if (state == "approved") {
          d["state"] = "redeemed";
          return GrantChange{std::move(d), current->expires_ms};
        }
        int64_t last = d.at("lastPoll").as_int64();
        *pending = now - last < kDevicePollIntervalMs
                       ? Polled("slow_down", "Polled too often; wait 5 seconds more.")
                       : Polled("authorization_pending", "The user has not answered yet.");
        d["lastPoll"] = now;
        return GrantChange{std::move(d), current->expires_ms};
      },
      [pending, done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        if (!pending->ok()) return done(*pending);
        done(ApprovalOf(g->data));
      });
}

}  // namespace meridian::auth
