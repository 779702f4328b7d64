// The device code grant against a real directory: pending until the user answers, slow_down when
// polled too often, redeemed once after an approval, access_denied after a denial, expired after
// 15 minutes; a user code answers once, typed in any case and with or without its dash.
#include "auth/device_codes.h"

#include <gtest/gtest.h>

#include "directory/testing/fixture.h"

namespace meridian::auth {
namespace {

class DeviceCodesTest : public testing::DirectoryFixture {
 protected:
  void SetUp() override {
    DirectoryFixture::SetUp();
    codes_ = std::make_unique<DeviceCodes>(d_.get(), random_.get());
  }
  directory::SecurityContext Ctx() {
    return testing::ContextForTest::TokenService(tenant_.tenant.id);
  }
  DeviceAuthorization Start() {
    Result<DeviceAuthorization> out = Internal("not answered");
    codes_->Start(Ctx(), "client-1", "openid User.Read",
                  [&](Result<DeviceAuthorization> a) { out = std::move(a); });
    EXPECT_TRUE(out.ok()) << out.status().ToString();
    return *out;
  }
  // "ok" or the error code of a poll.
  std::string Poll(const std::string& device_code, const std::string& client = "client-1") {
    std::string out = "not answered";
    codes_->Poll(Ctx(), device_code, client,
                 [&](Result<DeviceApproval> r) { out = r.ok() ? "ok" : r.status().graph_code(); });
    return out;
  }
  Status Answer(const std::string& user_code, bool approve) {
    Status out = Internal("not answered");
    codes_->Answer(Ctx(), user_code, approve,
                   {"", "", "user-1", clock_.NowMillis(), {"pwd", "mfa"}},
                   [&](Status s) { out = s; });
    return out;
  }
  std::unique_ptr<DeviceCodes> codes_;
};

TEST_F(DeviceCodesTest, PendingThenApprovedThenRedeemedOnce) {
  DeviceAuthorization a = Start();
  ASSERT_EQ(a.user_code.size(), 9u);
  EXPECT_EQ(a.user_code[4], '-');
  EXPECT_EQ(Poll(a.device_code), "authorization_pending");
  EXPECT_EQ(Poll(a.device_code), "slow_down");
  clock_.Advance(kDevicePollIntervalMs);
  EXPECT_EQ(Poll(a.device_code), "authorization_pending");
  EXPECT_EQ(Poll(a.device_code, "client-2"), "invalid_grant");
  // The verification page shows what the code is for; the user types it in lower case.
  std::string typed = a.user_code.substr(0, 4) + a.user_code.substr(5);
  for (char& c : typed) c = static_cast<char>(tolower(c));
  Result<DeviceApproval> shown = Internal("not answered");
  codes_->Describe(Ctx(), typed, [&](Result<DeviceApproval> r) { shown = std::move(r); });
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->client_id, "client-1");
  EXPECT_EQ(shown->scope, "openid User.Read");
  ASSERT_TRUE(Answer(typed, true).ok());
  EXPECT_EQ(Answer(a.user_code, true).code(), Code::kNotFound) << "a code answers once";
  Result<DeviceApproval> redeemed = Internal("not answered");
  codes_->Poll(Ctx(), a.device_code, "client-1",
               [&](Result<DeviceApproval> r) { redeemed = std::move(r); });
  ASSERT_TRUE(redeemed.ok()) << redeemed.status().ToString();
  EXPECT_EQ(redeemed->user_id, "user-1");
  EXPECT_EQ(redeemed->amr, (std::vector<std::string>{"pwd", "mfa"}));
  EXPECT_EQ(Poll(a.device_code), "invalid_grant") << "redeemed once";
}

TEST_F(DeviceCodesTest, ADenialAndTheClockEndIt) {
  DeviceAuthorization denied = Start();
  ASSERT_TRUE(Answer(denied.user_code, false).ok());
  EXPECT_EQ(Poll(denied.device_code), "access_denied");
  DeviceAuthorization late = Start();
  clock_.Advance(kDeviceCodeLifetimeMs);
  EXPECT_EQ(Poll(late.device_code), "expired_token");
  EXPECT_EQ(Answer(late.user_code, true).code(), Code::kNotFound);
  EXPECT_EQ(Poll("not-a-device-code"), "invalid_grant");
  EXPECT_EQ(Answer("AEIO-UAEI", true).code(), Code::kNotFound) << "vowels are never in a code";
}

TEST(DeviceUserCodeTest, NormalizationAcceptsEverySpellingOfACode) {
  EXPECT_EQ(DeviceCodes::NormalizeUserCode("bcdf-ghjk"), "BCDF-GHJK");
  EXPECT_EQ(DeviceCodes::NormalizeUserCode("BCDF GHJK"), "BCDF-GHJK");
  EXPECT_EQ(DeviceCodes::NormalizeUserCode("bcdfghjk"), "BCDF-GHJK");
  EXPECT_EQ(DeviceCodes::NormalizeUserCode("BCDF-GHJ"), "");
  EXPECT_EQ(DeviceCodes::NormalizeUserCode("BCDF-GHJ1"), "");
}

}  // namespace
}  // namespace meridian::auth
