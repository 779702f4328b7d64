// The stored signing keys through the global directory's real partition: the precondition that
// keeps two processes from both adding the next key, the sealing of a plaintext key of an
// earlier version, and the replay of ops written before either existed.
#include "directory/signing_keys.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/testing/temp_dir.h"
#include "directory/global_directory.h"

namespace meridian::directory {
namespace {

proto::SigningKey Key(std::string kid, int64_t created, int64_t signs_from,
                      std::optional<std::string> follows) {
  proto::SigningKey k;
  k.set_kid(std::move(kid));
  k.set_created_ms(created);
  k.set_signs_from_ms(signs_from);
  k.set_sealed_private_key("sealed:" + k.kid());
  if (follows) k.set_follows_kid(*follows);
  return k;
}

// A key as versions before sealing logged it: a PEM, no schedule, no precondition.
proto::SigningKey LegacyKey(std::string kid, int64_t created) {
  proto::SigningKey k;
  k.set_kid(std::move(kid));
  k.set_created_ms(created);
  k.set_private_pem("-----BEGIN PRIVATE KEY-----\nlegacy\n-----END PRIVATE KEY-----\n");
  return k;
}

class SigningKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    random_ = NewSeededRandom(11);
    store::PartitionOptions o;
    o.sync = false;
    global_ = std::move(GlobalDirectory::Open(dir_.path(), o, &clock_, random_.get())).value();
  }
  std::vector<std::string> Kids() {
    auto keys = global_->SigningKeys();
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    std::vector<std::string> out;
    for (const auto& k : keys.ok() ? *keys : std::vector<proto::SigningKey>{}) {
      out.push_back(k.kid());
    }
    return out;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Random> random_;
  std::unique_ptr<GlobalDirectory> global_;
};

TEST_F(SigningKeysTest, ANewKeyMustFollowTheNewestOne) {
  ASSERT_TRUE(global_->AddSigningKey(Key("a", 1000, 1000, "")).ok());
  uint64_t lsn = global_->partition().last_lsn();
  // Another process that also saw no key: refused, and nothing logged.
  Status s = global_->AddSigningKey(Key("b", 1001, 1001, ""));
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(global_->partition().last_lsn(), lsn);
  ASSERT_TRUE(global_->AddSigningKey(Key("b", 2000, 5000, "a")).ok());
  // "a" is no longer the newest.
  EXPECT_EQ(global_->AddSigningKey(Key("c", 2001, 5001, "a")).code(), Code::kFailedPrecondition);
  // A kid is never replaced.
  EXPECT_EQ(global_->AddSigningKey(Key("a", 3000, 6000, "b")).code(), Code::kAlreadyExists);
  ASSERT_TRUE(global_->AddSigningKey(Key("c", 3000, 6000, "b")).ok());
  EXPECT_EQ(Kids(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_F(SigningKeysTest, OfConcurrentWritersOfTheNextKeyExactlyOneSucceeds) {
  ASSERT_TRUE(global_->AddSigningKey(Key("first", 1000, 1000, "")).ok());
  constexpr int kWriters = 8;
  std::atomic<int> added{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      Status s = global_->AddSigningKey(Key("next-" + std::to_string(i), 2000, 9000, "first"));
      (s.ok() ? added : refused)++;
      if (!s.ok()) EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(added.load(), 1);
  EXPECT_EQ(refused.load(), kWriters - 1);
  EXPECT_EQ(Kids().size(), 2u);
}

TEST_F(SigningKeysTest, KeysAreOrderedBySigningTimeThenCreation) {
  // Created in one order, signing in another: the schedule's order is by signs_from.
  ASSERT_TRUE(global_->AddSigningKey(LegacyKey("old", 500)).ok());  // signs from its creation
  ASSERT_TRUE(global_->AddSigningKey(Key("late", 1000, 9000, "old")).ok());
  ASSERT_TRUE(global_->AddSigningKey(Key("later", 1100, 9000, "late")).ok());
  EXPECT_EQ(Kids(), (std::vector<std::string>{"old", "late", "later"}));
  proto::SigningKey legacy = LegacyKey("x", 700);
  EXPECT_EQ(SignsFrom(legacy), 700);
  EXPECT_TRUE(SigningKeyBefore(legacy, Key("y", 600, 800, "")));
  EXPECT_FALSE(SigningKeyBefore(Key("y", 600, 800, ""), legacy));
}

TEST_F(SigningKeysTest, AStoredPlaintextKeyIsSealedInPlace) {
  ASSERT_TRUE(global_->AddSigningKey(LegacyKey("legacy", 1000)).ok());
  proto::SigningKey seal;
  seal.set_kid("legacy");
  seal.set_seals_stored(true);
  seal.set_sealed_private_key("sealed bytes");
  seal.set_created_ms(99);  // ignored: only the sealed key is taken
  ASSERT_TRUE(global_->AddSigningKey(seal).ok());
  auto keys = global_->SigningKeys();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->at(0).private_pem(), "");
  EXPECT_EQ(keys->at(0).sealed_private_key(), "sealed bytes");
  EXPECT_EQ(keys->at(0).created_ms(), 1000);
  EXPECT_FALSE(keys->at(0).seals_stored());

  EXPECT_EQ(global_->AddSigningKey(seal).code(), Code::kFailedPrecondition);  // sealed already
  seal.set_kid("unknown");
  EXPECT_EQ(global_->AddSigningKey(seal).code(), Code::kNotFound);
  ASSERT_TRUE(global_->AddSigningKey(LegacyKey("legacy-2", 2000)).ok());
  seal.set_kid("legacy-2");
  seal.set_private_pem("in clear");
  EXPECT_EQ(global_->AddSigningKey(seal).code(), Code::kInvalidArgument);
  seal.clear_private_pem();
  seal.clear_sealed_private_key();
  EXPECT_EQ(global_->AddSigningKey(seal).code(), Code::kInvalidArgument);
}

// Ops of earlier versions carry no precondition and apply as they always did, whatever is
// stored: a log written before this change replays.
TEST_F(SigningKeysTest, OpsWithoutAPreconditionApplyAsBefore) {
  ASSERT_TRUE(global_->AddSigningKey(Key("new", 1000, 1000, "")).ok());
  ASSERT_TRUE(global_->AddSigningKey(LegacyKey("legacy", 900)).ok());
  EXPECT_EQ(Kids(), (std::vector<std::string>{"legacy", "new"}));
}

TEST(SigningKeys, AnUndecodableKeyFailsTheRead) {
  // A record that is not a SigningKey, written under the prefix by a raw apply.
  class Corrupt final : public store::StateMachine {
   public:
    Status Apply(const proto::Op&, store::WriteContext* ctx) override {
      ctx->Put(GlobalSigningKeyPrefix() + "bad", "\xff\xff\xff");
      return Status::Ok();
    }
  } corrupt;
  testing::TempDir other;
  auto p = std::move(store::Partition::Open("global", other.path(), &corrupt)).value();
  ASSERT_TRUE(p->Write([](const store::ReadView&, proto::Op*) { return Status::Ok(); }).ok());
  auto keys = ReadSigningKeys(*p->Snapshot());
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), Code::kInternal);
}

}  // namespace
}  // namespace meridian::directory
