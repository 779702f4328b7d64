// Temporary Access Pass (Entra's): a time-limited passcode an administrator issues to a user, who
// signs in with it instead of a password and a second factor (to register an authenticator, or
// after losing one). At most one per user; stored as a hash in the secret part of the user's
// record; shown once, when it is issued. Graph's temporaryAccessPassAuthenticationMethod.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>

#include "common/status.h"

namespace meridian::directory {

// The member of the user record's secret part that holds the pass.
inline constexpr char kTapMember[] = "temporaryAccessPass";
inline constexpr int64_t kTapDefaultLifetimeMinutes = 60;
inline constexpr int64_t kTapMinLifetimeMinutes = 10;
inline constexpr int64_t kTapMaxLifetimeMinutes = 43200;  // 30 days

// The pass as stored (`stored`: the user's secret member) shown as Graph shows it at `now_ms`:
// the method without the pass itself, with isUsable and methodUsabilityReason.
boost::json::object TapMethod(const boost::json::object& stored, int64_t now_ms);

// Whether the stored pass may sign in at `now_ms`: within its lifetime, not used if usable once.
bool TapUsable(const boost::json::object& stored, int64_t now_ms);

// The stored pass of a create request `body` (startDateTime, lifetimeInMinutes, isUsableOnce,
// all optional) made at `now_ms`, with id `id` and the hash of `pass`. InvalidArgument for a
// bad or unknown member, a lifetime outside [10, 43200] minutes, a start in the past.
Result<boost::json::object> NewTap(const boost::json::object& body, std::string_view id,
                                   std::string_view pass, int64_t now_ms);

}  // namespace meridian::directory
