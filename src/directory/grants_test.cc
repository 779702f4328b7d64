// Sign-in state in the tenant's partition: written and read back, changed only by a check-and-set
// that exactly one of many concurrent updates wins, expired on the clock, confined to its tenant,
// and durable across a reopen.
#include "directory/grants.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "directory/state_machine.h"
#include "directory/testing/fixture.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;
using GrantsTest = testing::DirectoryFixture;

constexpr int64_t kMinute = 60'000;

// Issues a code: the grant must not exist yet.
GrantDecision Issue(json::object data, int64_t lifetime_ms) {
  return
      [data, lifetime_ms](const std::optional<Grant>& current, int64_t now) -> Result<GrantChange> {
        if (current) return Status(Code::kAlreadyExists, "the code exists");
        return GrantChange{data, now + lifetime_ms};
      };
}

// Redeems a code once: a second redemption finds it redeemed.
Result<GrantChange> Redeem(const std::optional<Grant>& current, int64_t) {
  if (!current) return NotFound("no such code");
  if (current->data.contains("redeemed")) {
    return Status(Code::kFailedPrecondition, "the code was redeemed already", "invalid_grant");
  }
  json::object data = current->data;
  data["redeemed"] = true;
  return GrantChange{std::move(data), current->expires_ms};
}

TEST_F(GrantsTest, AGrantIsKeptUnderTheHashOfItsSecretAndReadBack) {
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  std::string handle = GrantHandle("the-code");
  EXPECT_EQ(handle.size(), 43u);
  EXPECT_EQ(handle.find("the-code"), std::string::npos);
  auto issued = d_->UpdateGrant(ctx, kAuthorizationCodeGrant, handle,
                                Issue({{"client", "app-1"}}, 10 * kMinute));
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  EXPECT_GT(issued->version, 0u);
  auto read = d_->ReadGrant(ctx, kAuthorizationCodeGrant, handle);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->data.at("client").as_string(), "app-1");
  EXPECT_EQ((*read)->version, issued->version);
  EXPECT_EQ((*read)->expires_ms, clock_.NowMillis() + 10 * kMinute);
  // Issuing it again is refused by the decision and writes nothing.
  auto again = d_->UpdateGrant(ctx, kAuthorizationCodeGrant, handle, Issue({}, kMinute));
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ((*d_->ReadGrant(ctx, kAuthorizationCodeGrant, handle))->version, issued->version);
  // Malformed names are refused before anything is read.
  EXPECT_EQ(d_->ReadGrant(ctx, "code/../o", handle).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(d_->ReadGrant(ctx, kAuthorizationCodeGrant, "the-code").status().code(),
            Code::kInvalidArgument);
}

TEST_F(GrantsTest, OfFiftyConcurrentRedemptionsOfOneCodeExactlyOneSucceeds) {
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  std::string handle = GrantHandle("code-under-attack");
  ASSERT_TRUE(d_->UpdateGrant(ctx, kAuthorizationCodeGrant, handle, Issue({}, kMinute)).ok());
  std::atomic<int> won{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto r = d_->UpdateGrant(ctx, kAuthorizationCodeGrant, handle, Redeem);
      if (r.ok()) {
        ++won;
      } else if (r.status().graph_code() == "invalid_grant") {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 49);
}

TEST_F(GrantsTest, AnExpiredGrantCountsAsAbsent) {
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  std::string handle = GrantHandle("short-lived");
  ASSERT_TRUE(d_->UpdateGrant(ctx, kDeviceCodeGrant, handle, Issue({}, kMinute)).ok());
  clock_.Advance(kMinute);
  EXPECT_FALSE(d_->ReadGrant(ctx, kDeviceCodeGrant, handle)->has_value());
  EXPECT_EQ(d_->UpdateGrant(ctx, kDeviceCodeGrant, handle, Redeem).status().code(),
            Code::kNotFound);
  // Its handle may be issued again.
  EXPECT_TRUE(d_->UpdateGrant(ctx, kDeviceCodeGrant, handle, Issue({}, kMinute)).ok());
  // A change that would expire at once is refused.
  auto stillborn =
      d_->UpdateGrant(ctx, kDeviceCodeGrant, GrantHandle("x"),
                      [](const std::optional<Grant>&, int64_t now) -> Result<GrantChange> {
                        return GrantChange{json::object{}, now};
                      });
  EXPECT_EQ(stillborn.status().code(), Code::kInvalidArgument);
}

TEST_F(GrantsTest, AGrantIsConfinedToItsTenantAndSurvivesAReopen) {
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  std::string handle = GrantHandle("refresh-family");
  ASSERT_TRUE(d_->UpdateGrant(ctx, kRefreshTokenGrant, handle, Issue({{"n", 1}}, kMinute)).ok());
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  auto foreign = testing::ContextForTest::TokenService(other->tenant.id);
  EXPECT_FALSE(d_->ReadGrant(foreign, kRefreshTokenGrant, handle)->has_value());
  EXPECT_EQ(d_->UpdateGrant(foreign, kRefreshTokenGrant, handle, Redeem).status().code(),
            Code::kNotFound);
  Reopen();
  auto read = d_->ReadGrant(ctx, kRefreshTokenGrant, handle);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ((*read)->data.at("n").as_int64(), 1);
  // Deleting it: the decision returns no record.
  auto deleted = d_->UpdateGrant(
      ctx, kRefreshTokenGrant, handle,
      [](const std::optional<Grant>&, int64_t) -> Result<GrantChange> { return GrantChange{}; });
  ASSERT_TRUE(deleted.ok());
  EXPECT_FALSE(d_->ReadGrant(ctx, kRefreshTokenGrant, handle)->has_value());
}

// The apply checks the version the build saw, so a logged write applies only on the state it was
// decided on.
TEST(GrantApplyTest, AWriteDecidedOnAnotherVersionIsRefused) {
  struct Context final : store::WriteContext {
    std::map<std::string, std::string> kv;
    Result<std::optional<std::string>> Get(std::string_view key) const override {
      auto it = kv.find(std::string(key));
      return it == kv.end() ? std::optional<std::string>() : std::optional(it->second);
    }
    Status Scan(std::string_view, std::string_view, bool, const Visitor&) const override {
      return Status::Ok();
    }
    void Put(std::string_view key, std::string_view value) override {
      kv[std::string(key)] = std::string(value);
    }
    void Delete(std::string_view key) override { kv.erase(std::string(key)); }
  } ctx;
  TenantMachine machine;
  proto::Op op;
  op.set_lsn(7);
  op.set_time_ms(1000);
  op.set_tenant_id("11111111-1111-4111-8111-111111111111");
  auto* g = op.mutable_grant_write();
  g->set_kind(std::string(kAuthorizationCodeGrant));
  g->set_handle(GrantHandle("c"));
  g->set_record_json("{}");
  g->set_expires_ms(5000);
  ASSERT_TRUE(machine.Apply(op, &ctx).ok());
  // The same op again expects no record, but one is there now (version 7).
  op.set_lsn(8);
  EXPECT_EQ(machine.Apply(op, &ctx).code(), Code::kFailedPrecondition);
  g->set_expect_version(7);
  EXPECT_TRUE(machine.Apply(op, &ctx).ok());
}

}  // namespace
}  // namespace meridian::directory
