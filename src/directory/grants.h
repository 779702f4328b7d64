// Grants: a tenant's single-use and short-lived sign-in state (authorization codes, device codes,
// refresh-token families, the ids of client assertions already used), kept as data in the
// tenant's partition, so that every replica, every restart and every failover sees one truth.
//
// A grant is found by its handle: the base64url SHA-256 of the secret the client holds (a code, a
// refresh token), so the store never holds the secret. Its record is a JSON object the sign-in
// code defines. A write replaces the record whole and stamps it with the op's LSN, its version.
// What the record becomes is decided under the partition's write lock, from the record as it is:
// of concurrent updates of one grant, each sees the one before it, so of 50 concurrent
// redemptions of a code exactly one finds it unredeemed (an atomic check-and-set). The apply
// checks the version again, so a replica applies exactly what the primary decided.
//
// A record past its expiry counts as absent: reads do not return it and an update sees none.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "directory/security_context.h"

namespace meridian::directory {

// The kinds of grant.
inline constexpr std::string_view kAuthorizationCodeGrant = "code";
inline constexpr std::string_view kDeviceCodeGrant = "device";
inline constexpr std::string_view kRefreshTokenGrant = "refresh";
inline constexpr std::string_view kClientAssertionGrant = "assertion";
inline constexpr std::string_view kLockoutGrant = "lockout";  // directory/lockout.h
inline constexpr std::string_view kUserCodeGrant = "usercode";  // auth/device_codes.h
inline constexpr std::string_view kSessionGrant = "session";    // auth/sign_in_pages.h
// A sign-in between its steps: the password verified, a new password or a second factor to come
// (auth/sign_in_pages.h).
inline constexpr std::string_view kPendingSignInGrant = "pending";
// A pushed authorization request (RFC 9126), until the authorization endpoint uses it.
inline constexpr std::string_view kPushedRequestGrant = "par";

struct Grant {
  std::string kind, handle;
  boost::json::object data;
  int64_t expires_ms = 0;
  uint64_t version = 0;  // the LSN of the op that wrote it
};

// What an update makes of a grant: a new record with its expiry, or nothing (it is deleted).
struct GrantChange {
  std::optional<boost::json::object> data;
  int64_t expires_ms = 0;
};

// Decides, from the grant as it is (nullopt: none, or expired) at the op's time `now_ms`, what it
// becomes. An error writes nothing and is the update's outcome. Runs under the partition's write
// lock: it must be quick and must not block.
using GrantDecision =
    std::function<Result<GrantChange>(const std::optional<Grant>& current, int64_t now_ms)>;
// An update's outcome: the grant as written (for a delete, without data), with its version.
using GrantDone = std::function<void(Result<Grant>)>;

class GrantStore;

// Keeps `data` as the new grant `kind`/`handle` for `lifetime_ms` from the op's time. For
// records under a secret just drawn: a live grant already there means the secret was drawn twice
// (Internal), and nothing is written.
void CreateGrant(GrantStore* store, const SecurityContext& ctx, std::string_view kind,
                 std::string_view handle, boost::json::object data, int64_t lifetime_ms,
                 GrantDone done);

// The handle of `secret`: base64url SHA-256, 43 characters.
std::string GrantHandle(std::string_view secret);
// InvalidArgument unless `kind` is one of the kinds above and `handle` has the shape of a handle.
Status CheckGrantName(std::string_view kind, std::string_view handle);

// A grant's stored form, and back (nullopt for an absent or expired one at `now_ms`).
std::string EncodeGrant(const boost::json::object& data, int64_t expires_ms, uint64_t version);
Result<std::optional<Grant>> DecodeGrant(std::string_view kind, std::string_view handle,
                                         const std::optional<std::string>& stored, int64_t now_ms);

// Where the sign-in code keeps its grants: the directory, or a test's fake. Thread-safe
// implementations only.
class GrantStore {
 public:
  virtual ~GrantStore() = default;
  // The live grant, or nullopt.
  virtual Result<std::optional<Grant>> ReadGrant(const SecurityContext& ctx, std::string_view kind,
                                                 std::string_view handle) const = 0;
  // Runs `decide` under the write lock (before UpdateGrant returns) and writes its change; `done`
  // runs once it committed (see directory::WriteDone for the thread).
  virtual void UpdateGrant(const SecurityContext& ctx, std::string_view kind,
                           std::string_view handle, GrantDecision decide, GrantDone done) = 0;
};

}  // namespace meridian::directory
