#include "auth/key_schedule.h"

#include <algorithm>

#include "directory/signing_keys.h"

namespace meridian::auth {

using directory::SignsFrom;

Status CheckKeyPolicy(const KeyPolicy& p) {
  if (p.publish_ahead_ms <= 0 || p.publish_ahead_ms >= p.rotation_period_ms ||
      p.retire_after_ms < 0) {
    return InvalidArgument(
        "the signing-key schedule needs 0 < publish-ahead time < rotation period and a "
        "non-negative retirement delay");
  }
  return Status::Ok();
}

KeyPlan PlanKeys(const std::vector<proto::SigningKey>& keys, int64_t now_ms,
                 const KeyPolicy& policy) {
  KeyPlan plan;
  if (keys.empty()) {
    plan.next_key_due_ms = now_ms;
    plan.next_signs_from_ms = now_ms;  // the first key signs at once: no token exists yet
    return plan;
  }
  // The signer: the last key whose time has come; before any has (a clock set back), the first.
  size_t signer = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (SignsFrom(keys[i]) <= now_ms) signer = i;
  }
  plan.signer = signer;
  auto later = [&](int64_t t) {
    if (t > now_ms) plan.changes_at_ms = std::min(plan.changes_at_ms, t);
  };
  for (size_t i = 0; i < keys.size(); ++i) {
    later(SignsFrom(keys[i]));
    bool retired = false;
    if (i + 1 < keys.size() && i != signer) {
      int64_t retires_at = SignsFrom(keys[i + 1]) + policy.retire_after_ms;
      retired = retires_at <= now_ms;
      later(retires_at);
    }
    if (!retired) plan.published.push_back(i);
  }
  const proto::SigningKey& newest = keys.back();
  if (SignsFrom(newest) <= now_ms) {
    // The newest key signs: its successor is due publish_ahead before its period ends.
    int64_t period_end = SignsFrom(newest) + policy.rotation_period_ms;
    plan.next_key_due_ms = period_end - policy.publish_ahead_ms;
    plan.next_signs_from_ms = std::max(period_end, now_ms + policy.publish_ahead_ms);
  }
  return plan;
}

}  // namespace meridian::auth
