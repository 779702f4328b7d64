#include "auth/key_schedule.h"

#include <gtest/gtest.h>

namespace meridian::auth {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kHour = 3'600'000;
const KeyPolicy kPolicy{30 * kDay, 2 * kDay, kHour};

proto::SigningKey Key(std::string kid, int64_t created, int64_t signs_from) {
  proto::SigningKey k;
  k.set_kid(std::move(kid));
  k.set_created_ms(created);
  k.set_signs_from_ms(signs_from);
  return k;
}

std::vector<std::string> Published(const std::vector<proto::SigningKey>& keys,
                                   const KeyPlan& plan) {
  std::vector<std::string> out;
  for (size_t i : plan.published) out.push_back(keys[i].kid());
  return out;
}

std::string Signer(const std::vector<proto::SigningKey>& keys, const KeyPlan& plan) {
  return plan.signer ? keys[*plan.signer].kid() : "";
}

TEST(KeySchedule, TheFirstKeyIsDueAtOnceAndSignsAtOnce) {
  KeyPlan plan = PlanKeys({}, 5000, kPolicy);
  EXPECT_FALSE(plan.signer);
  EXPECT_TRUE(plan.published.empty());
  EXPECT_EQ(plan.next_key_due_ms, 5000);
  EXPECT_EQ(plan.next_signs_from_ms, 5000);
}

TEST(KeySchedule, PublishThenSignThenRetire) {
  const int64_t t0 = 1000 * kDay;
  std::vector<proto::SigningKey> keys{Key("a", t0, t0)};
  // Until publish_ahead before a's period ends, nothing is due and nothing changes.
  KeyPlan plan = PlanKeys(keys, t0 + 28 * kDay - 1, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "a");
  EXPECT_EQ(plan.next_key_due_ms, t0 + 28 * kDay);
  EXPECT_EQ(plan.changes_at_ms, std::numeric_limits<int64_t>::max());
  // Due: the next key signs when a's period ends.
  plan = PlanKeys(keys, t0 + 28 * kDay, kPolicy);
  EXPECT_EQ(plan.next_signs_from_ms, t0 + 30 * kDay);

  // b made then: published at once, not signing, nothing more due.
  keys.push_back(Key("b", t0 + 28 * kDay, t0 + 30 * kDay));
  plan = PlanKeys(keys, t0 + 28 * kDay, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "a");
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(plan.next_key_due_ms);
  EXPECT_EQ(plan.changes_at_ms, t0 + 30 * kDay);

  // b signs from its time; a stays published for retire_after.
  plan = PlanKeys(keys, t0 + 30 * kDay - 1, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "a");
  plan = PlanKeys(keys, t0 + 30 * kDay, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "b");
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan.changes_at_ms, t0 + 30 * kDay + kHour);
  EXPECT_EQ(plan.next_key_due_ms, t0 + 58 * kDay);
  plan = PlanKeys(keys, t0 + 30 * kDay + kHour - 1, kPolicy);
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"a", "b"}));
  plan = PlanKeys(keys, t0 + 30 * kDay + kHour, kPolicy);
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"b"}));
  EXPECT_EQ(Signer(keys, plan), "b");
  EXPECT_EQ(plan.changes_at_ms, std::numeric_limits<int64_t>::max());
}

TEST(KeySchedule, AKeyMadeLateIsStillPublishedAheadOfSigning) {
  const int64_t t0 = 1000 * kDay;
  std::vector<proto::SigningKey> keys{Key("a", t0, t0)};
  // The deployment was down for 100 days: a keeps signing until the new key has been published
  // for publish_ahead.
  KeyPlan plan = PlanKeys(keys, t0 + 100 * kDay, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "a");
  EXPECT_EQ(plan.next_key_due_ms, t0 + 28 * kDay);
  EXPECT_EQ(plan.next_signs_from_ms, t0 + 102 * kDay);
}

TEST(KeySchedule, KeysOfEarlierVersionsSignFromTheirCreation) {
  proto::SigningKey legacy;
  legacy.set_kid("legacy");
  legacy.set_created_ms(1000);
  std::vector<proto::SigningKey> keys{legacy};
  KeyPlan plan = PlanKeys(keys, 2000, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "legacy");
  EXPECT_EQ(plan.next_key_due_ms, 1000 + 28 * kDay);
}

TEST(KeySchedule, EachKeyRetiresAfterItsOwnSuccessorTakesOver) {
  std::vector<proto::SigningKey> keys{Key("a", 0, 0), Key("b", 10, 100 * kHour),
                                      Key("c", 20, 101 * kHour)};
  KeyPlan plan = PlanKeys(keys, 101 * kHour, kPolicy);
  EXPECT_EQ(Signer(keys, plan), "c");
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"b", "c"}));  // a: retired at 101 h
  EXPECT_EQ(plan.changes_at_ms, 102 * kHour);
  plan = PlanKeys(keys, 102 * kHour, kPolicy);
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"c"}));
}

TEST(KeySchedule, BeforeAnyKeysTimeTheFirstSigns) {
  std::vector<proto::SigningKey> keys{Key("a", 5000, 5000), Key("b", 6000, 9000)};
  KeyPlan plan = PlanKeys(keys, 1000, kPolicy);  // a clock set back
  EXPECT_EQ(Signer(keys, plan), "a");
  EXPECT_EQ(Published(keys, plan), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(plan.changes_at_ms, 5000);
}

TEST(KeySchedule, PolicyBounds) {
  EXPECT_TRUE(CheckKeyPolicy(kPolicy).ok());
  EXPECT_FALSE(CheckKeyPolicy({kDay, kDay, 0}).ok());
  EXPECT_FALSE(CheckKeyPolicy({kDay, 0, 0}).ok());
  EXPECT_FALSE(CheckKeyPolicy({kDay, kHour, -1}).ok());
}

}  // namespace
}  // namespace meridian::auth
