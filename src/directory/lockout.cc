#include "directory/lockout.h"

#include <algorithm>

#include "common/encoding.h"

namespace meridian::directory {
namespace json = boost::json;

namespace {

int64_t Field(const std::optional<Grant>& record, std::string_view name) {
  if (!record) return 0;
  const json::value* v = record->data.if_contains(name);
  return v && v->is_int64() ? v->get_int64() : 0;
}

}  // namespace

std::string LockoutHandle(std::string_view login) { return GrantHandle(AsciiLower(login)); }

std::optional<int64_t> LockedUntil(const std::optional<Grant>& record, int64_t now_ms) {
  int64_t until = Field(record, "lockedUntil");
  if (until > now_ms) return until;
  return std::nullopt;
}

GrantChange AfterFailure(const std::optional<Grant>& record, int64_t now_ms,
                         const LockoutPolicy& policy) {
  int64_t failures = Field(record, "failures") + 1;
  int64_t locks = Field(record, "locks");
  int64_t until = Field(record, "lockedUntil");
  if (failures >= policy.threshold) {
    int64_t lock = policy.first_lock_ms;
    for (int64_t i = 0; i < locks && lock < policy.max_lock_ms; ++i) lock *= 2;
    until = now_ms + std::min(lock, policy.max_lock_ms);
    ++locks;
    failures = 0;
  }
  json::object data{{"failures", failures}, {"locks", locks}, {"lockedUntil", until}};
  return GrantChange{std::move(data), std::max(until, now_ms) + policy.forget_after_ms};
}

bool HasFailures(const Grant& record) { return Field(record, "failures") > 0; }

GrantChange AfterSuccess(const Grant& record) {
  json::object data = record.data;
  data["failures"] = 0;
  return GrantChange{std::move(data), record.expires_ms};
}

}  // namespace meridian::directory
