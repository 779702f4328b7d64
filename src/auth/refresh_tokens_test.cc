// Refresh tokens against a real directory: rotation on every redemption; a replaced token
// presented again revokes its whole family; of 50 concurrent redemptions of one token exactly
// one succeeds; a family is bound to its client, lapses when idle, and can be revoked.
#include "auth/refresh_tokens.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

class RefreshTokensTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    tokens_ = std::make_unique<RefreshTokens>(d_.get(), random_.get());
  }
  directory::SecurityContext Ctx() {
    return testing::ContextForTest::TokenService(tenant_.tenant.id);
  }
  std::string Issue() {
    RefreshFamily f{"user-1", "client-1", "openid User.Read", clock_.NowMillis(), {"pwd"}};
    Result<std::string> out = Internal("not answered");
    tokens_->Issue(Ctx(), f, [&](Result<std::string> t) { out = std::move(t); });
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return out.ok() ? *out : "";
  }
  Result<Redeemed> Redeem(const std::string& token, const std::string& client = "client-1") {
    Result<Redeemed> out = Internal("not answered");
    tokens_->Redeem(Ctx(), token, client, [&](Result<Redeemed> r) { out = std::move(r); });
    return out;
  }
  static bool Refused(const Result<Redeemed>& r) {
    return !r.ok() && r.status().graph_code() == "invalid_grant";
  }
  std::unique_ptr<RefreshTokens> tokens_;
};

TEST_F(RefreshTokensTest, EachRedemptionRotatesAndAReplacedTokenRevokesTheFamily) {
  std::string first = Issue();
  auto second = Redeem(first);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_NE(second->token, first);
  EXPECT_EQ(second->family.user_id, "user-1");
  EXPECT_EQ(second->family.scope, "openid User.Read");
  EXPECT_EQ(second->family.amr, (std::vector<std::string>{"pwd"}));
  auto third = Redeem(second->token);
  ASSERT_TRUE(third.ok());
  // The first token again: a leak. The family is revoked, the current holder's token included.
  EXPECT_TRUE(Refused(Redeem(first)));
  EXPECT_TRUE(Refused(Redeem(third->token)));
}

TEST_F(RefreshTokensTest, OfFiftyConcurrentRedemptionsOfOneTokenExactlyOneSucceeds) {
  std::string token = Issue();
  std::atomic<int> won{0}, refused{0};
  std::vector<std::string> winners(50);
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      auto r = Redeem(token);
      if (r.ok()) {
        ++won;
        winners[i] = r->token;
      } else if (Refused(r)) {
        ++refused;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 49);
  // The others presented a replaced token: the family is revoked, the winner's token too.
  for (const auto& w : winners) {
    if (!w.empty()) EXPECT_TRUE(Refused(Redeem(w)));
  }
}

TEST_F(RefreshTokensTest, AFamilyIsBoundToItsClientLapsesWhenIdleAndCanBeRevoked) {
  std::string token = Issue();
  EXPECT_TRUE(Refused(Redeem(token, "another-client")));
  auto next = Redeem(token);  // the refusal above revoked nothing
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  // 89 days idle: still good; 90 more: lapsed.
  clock_.Advance(89LL * 86'400'000);
  auto later = Redeem(next->token);
  ASSERT_TRUE(later.ok());
  clock_.Advance(90LL * 86'400'000);
  EXPECT_TRUE(Refused(Redeem(later->token)));
  // Revocation needs a token of the family; then nothing of it redeems.
  std::string other = Issue();
  Status revoked = Internal("not answered");
  std::string forged = other.substr(0, other.find('.') + 1) + std::string(43, 'A');
  tokens_->Revoke(Ctx(), forged, [&](Status s) { revoked = s; });
  EXPECT_FALSE(revoked.ok());
  tokens_->Revoke(Ctx(), other, [&](Status s) { revoked = s; });
  EXPECT_TRUE(revoked.ok()) << revoked.ToString();
  EXPECT_TRUE(Refused(Redeem(other)));
}

TEST_F(RefreshTokensTest, MalformedTokensAreRefused) {
  for (std::string bad :
       std::vector<std::string>{"", ".", "abc", "abc.def", std::string(200, 'x') + ".y"}) {
    EXPECT_TRUE(Refused(Redeem(bad))) << bad;
  }
}

}  // namespace
}  // namespace meridian::auth
