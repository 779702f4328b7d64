// The token-signing key schedule: which stored key signs at a given time, which keys are
// published (in JWKS, and accepted by the token validator), and when the next key is due. A pure
// function of the stored keys' times, the policy and the injected clock's reading, so tests move
// time instead of sleeping and every process of a deployment reaches the same answer.
//
// The rules, for keys in directory::SigningKeyBefore order:
//   - a key is published from its creation, and signs from its signs_from time until the next
//     key's (the first key of a deployment signs at once);
//   - after the next key takes over it stays published for retire_after (the longest token
//     lifetime plus the clock skew validators allow), so every token it signed expires first;
//     then it is retired: gone from JWKS, and its tokens are refused;
//   - the next key is due publish_ahead before the signer's period ends, and signs from the end
//     of that period, or publish_ahead after it is made if it is made late (a deployment that was
//     down): relying parties always see a key in JWKS for publish_ahead before it signs.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "common/status.h"
#include "meridian/op.pb.h"

namespace meridian::auth {

struct KeyPolicy {
  int64_t rotation_period_ms = 0;  // how long each key signs
  int64_t publish_ahead_ms = 0;    // how long a new key is published before it signs
  int64_t retire_after_ms = 0;     // how long a key stays published once it stopped signing
};

// InvalidArgument unless 0 < publish_ahead_ms < rotation_period_ms and retire_after_ms >= 0.
Status CheckKeyPolicy(const KeyPolicy& policy);

// What the schedule says at one time. Indexes refer to the keys PlanKeys was given.
struct KeyPlan {
  std::optional<size_t> signer;   // nullopt only when there is no key
  std::vector<size_t> published;  // ascending; the signer is always among them
  // The signer and the published set stay as they are until then (absent a new key).
  int64_t changes_at_ms = std::numeric_limits<int64_t>::max();
  // When a new key is due (it may be in the past: make it now); nullopt while a key made ahead
  // of its time waits to sign. A key made now signs from next_signs_from_ms.
  std::optional<int64_t> next_key_due_ms;
  int64_t next_signs_from_ms = 0;
};

// The plan at `now_ms` for `keys`, which must be in directory::SigningKeyBefore order.
KeyPlan PlanKeys(const std::vector<proto::SigningKey>& keys, int64_t now_ms,
                 const KeyPolicy& policy);

}  // namespace meridian::auth
