// Smart lockout: how failed password sign-ins lock an account name, as pure decisions on its
// lockout record (a grant of kind kLockoutGrant, directory/grants.h) so that the count lives in
// the tenant's partition and every node sees one count.
//
// The record is kept per sign-in name as typed (lower-cased), whether or not a user has it: a name
// nobody has is counted and locked exactly as a real one, so neither the answer nor its timing
// says whether the account exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "directory/grants.h"

namespace meridian::directory {

struct LockoutPolicy {
  int threshold = 10;                    // failures in a row that lock the name
  int64_t first_lock_ms = 60'000;        // the first lock; each later one doubles it
  int64_t max_lock_ms = 3'600'000;       // up to this
  int64_t forget_after_ms = 86'400'000;  // a record untouched this long is forgotten
};

// The handle of the lockout record of sign-in name `login` (case-insensitive).
std::string LockoutHandle(std::string_view login);
// Until when the name is locked, when it is at `now_ms`.
std::optional<int64_t> LockedUntil(const std::optional<Grant>& record, int64_t now_ms);
// The record after one more failure at `now_ms`: the count grows; at the threshold the name is
// locked (for first_lock_ms, doubled for each lock before) and the count starts again.
GrantChange AfterFailure(const std::optional<Grant>& record, int64_t now_ms,
                         const LockoutPolicy& policy);

// Whether the record counts failures since the last lock or success.
bool HasFailures(const Grant& record);
// The record after a success: no failures, the locks so far kept.
GrantChange AfterSuccess(const Grant& record);

}  // namespace meridian::directory
