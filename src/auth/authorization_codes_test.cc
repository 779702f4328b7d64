// Authorization codes against a real directory: redeemed once, by their client at their redirect
// URI, within 10 minutes; PKCE S256 checked, plain and downgrades refused; of 50 concurrent
// redemptions of one code exactly one succeeds.
#include "auth/authorization_codes.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

constexpr char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";  // RFC 7636 App. B

class AuthorizationCodesTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    codes_ = std::make_unique<AuthorizationCodes>(d_.get(), random_.get());
  }
  directory::SecurityContext Ctx() {
    return testing::ContextForTest::TokenService(tenant_.tenant.id);
  }
  Result<std::string> Issue(std::string challenge, std::string method = "S256") {
    CodeGrant g{"client-1", "https://app.example/cb", "openid",           "user-1",
                "n-0S6",    std::move(challenge),     clock_.NowMillis(), {"pwd"}};
    Result<std::string> out = Internal("not answered");
    codes_->Issue(Ctx(), g, method, [&](Result<std::string> c) { out = std::move(c); });
    return out;
  }
  Result<CodeGrant> Redeem(const std::string& code, std::string verifier = kVerifier,
                           std::string client = "client-1",
                           std::string redirect = "https://app.example/cb") {
    Result<CodeGrant> out = Internal("not answered");
    codes_->Redeem(Ctx(), code, client, redirect, verifier,
                   [&](Result<CodeGrant> g) { out = std::move(g); });
    return out;
  }
  static bool Refused(const Result<CodeGrant>& r) {
    return !r.ok() && r.status().graph_code() == "invalid_grant";
  }
  std::unique_ptr<AuthorizationCodes> codes_;
};

TEST_F(AuthorizationCodesTest, ACodeIsRedeemedOnceWithItsVerifier) {
  // RFC 7636 Appendix B's verifier and challenge.
  EXPECT_EQ(AuthorizationCodes::Challenge(kVerifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  auto code = Issue(AuthorizationCodes::Challenge(kVerifier));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  auto g = Redeem(*code);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->user_id, "user-1");
  EXPECT_EQ(g->nonce, "n-0S6");
  EXPECT_TRUE(Refused(Redeem(*code))) << "a second redemption";
}

TEST_F(AuthorizationCodesTest, PkceIsCheckedAndCannotBeDowngraded) {
  std::string challenge = AuthorizationCodes::Challenge(kVerifier);
  EXPECT_EQ(Issue(challenge, "plain").status().graph_code(), "invalid_request");
  EXPECT_EQ(Issue("", "S256").status().graph_code(), "invalid_request");
  EXPECT_EQ(Issue("short").status().graph_code(), "invalid_request");
  auto code = Issue(challenge);
  ASSERT_TRUE(code.ok());
  EXPECT_TRUE(Refused(Redeem(*code, "")));                    // verifier missing
  EXPECT_TRUE(Refused(Redeem(*code, std::string(43, 'a'))));  // another verifier
  EXPECT_TRUE(Refused(Redeem(*code, "bad verifier!")));
  EXPECT_TRUE(Redeem(*code).ok()) << "the failed attempts did not spend it";
  // A code issued without a challenge refuses a verifier: a PKCE downgrade.
  auto plain = Issue("", "");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(Refused(Redeem(*plain, kVerifier)));
  EXPECT_TRUE(Redeem(*plain, "").ok());
}

TEST_F(AuthorizationCodesTest, ACodeIsBoundToItsClientRedirectAndLifetime) {
  auto code = Issue(AuthorizationCodes::Challenge(kVerifier));
  ASSERT_TRUE(code.ok());
  EXPECT_TRUE(Refused(Redeem(*code, kVerifier, "client-2")));
  EXPECT_TRUE(Refused(Redeem(*code, kVerifier, "client-1", "https://app.example/cb/")));
  EXPECT_TRUE(Refused(Redeem(*code, kVerifier, "client-1", "https://evil.example/cb")));
  clock_.Advance(kCodeLifetimeMs);
  EXPECT_TRUE(Refused(Redeem(*code)));
  EXPECT_TRUE(Refused(Redeem("not-a-code")));
}

TEST_F(AuthorizationCodesTest, OfFiftyConcurrentRedemptionsOfOneCodeExactlyOneSucceeds) {
  auto code = Issue(AuthorizationCodes::Challenge(kVerifier));
  ASSERT_TRUE(code.ok());
  std::atomic<int> won{0}, refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&] {
      auto r = Redeem(*code);
      if (r.ok())
        ++won;
      else if (Refused(r))
        ++refused;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(refused.load(), 49);
}

}  // namespace
}  // namespace meridian::auth
