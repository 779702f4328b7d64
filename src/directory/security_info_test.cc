// Security info: an authenticator and recovery codes registered to a user, each code of the
// authenticator accepted once and in order, each recovery code spent once; none of it shown by
// reads or named by the audit log; none of it reachable from another tenant.
#include "directory/security_info.h"

#include <gtest/gtest.h>

#include "directory/testing/fixture.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;

class SecurityInfoTest : public testing::DirectoryFixture {
 protected:
  SecurityContext Ctx() { return testing::ContextForTest::TokenService(tenant_.tenant.id); }
  Status Wait(const std::function<void(WriteDone)>& write) {
    Status out = Internal("not answered");
    write([&](Result<WriteResult> r) { out = r.status(); });  // the embedded default answers here
    return out;
  }
};

TEST_F(SecurityInfoTest, AnAuthenticatorsCodesWorkOnceAndInOrder) {
  std::string user = MakeUser("adele", "Adele Vance");
  ASSERT_TRUE(Wait([&](WriteDone d) {
                d_->RegisterTotp(Ctx(), user, "sealed-seed-bytes", {"h1", "h2"}, std::move(d));
              }).ok());
  auto info = d_->ReadSecurityInfo(Ctx(), user);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->totp_sealed_seed, "sealed-seed-bytes");
  EXPECT_EQ(info->recovery_code_hashes, (std::vector<std::string>{"h1", "h2"}));
  // A second registration (a stale page, another tab) does not replace the first.
  EXPECT_EQ(Wait([&](WriteDone d) {
              d_->RegisterTotp(Ctx(), user, "another-seed", {"h9"}, std::move(d));
            }).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(d_->ReadSecurityInfo(Ctx(), user)->totp_sealed_seed, "sealed-seed-bytes");
  auto use = [&](int64_t step) {
    return Wait([&](WriteDone d) { d_->UseTotpStep(Ctx(), user, step, std::move(d)); });
  };
  EXPECT_TRUE(use(100).ok());
  Status again = use(100);
  EXPECT_EQ(again.code(), Code::kFailedPrecondition);
  EXPECT_EQ(again.graph_code(), "AADSTS54001");
  EXPECT_FALSE(use(99).ok());
  EXPECT_TRUE(use(101).ok());
  EXPECT_EQ(d_->ReadSecurityInfo(Ctx(), user)->totp_last_step, 101);
}

TEST_F(SecurityInfoTest, ARecoveryCodeIsSpentOnce) {
  std::string user = MakeUser("megan", "Megan Bowen");
  ASSERT_TRUE(Wait([&](WriteDone d) {
                d_->RegisterTotp(Ctx(), user, "seed", {"h1", "h2"}, std::move(d));
              }).ok());
  auto spend = [&](std::string h) {
    return Wait([&](WriteDone d) { d_->UseRecoveryCode(Ctx(), user, h, std::move(d)); });
  };
  EXPECT_TRUE(spend("h2").ok());
  EXPECT_EQ(spend("h2").code(), Code::kNotFound);
  EXPECT_EQ(spend("h3").code(), Code::kNotFound);
  EXPECT_EQ(d_->ReadSecurityInfo(Ctx(), user)->recovery_code_hashes,
            (std::vector<std::string>{"h1"}));
  // With no authenticator, no code is accepted.
  std::string other = MakeUser("lidia", "Lidia Holloway");
  EXPECT_EQ(Wait([&](WriteDone d) { d_->UseTotpStep(Ctx(), other, 1, std::move(d)); }).code(),
            Code::kFailedPrecondition);
}

TEST_F(SecurityInfoTest, NothingOfItIsShownOrAuditedOrReachableFromAnotherTenant) {
  std::string user = MakeUser("joni", "Joni Sherman");
  ASSERT_TRUE(Wait([&](WriteDone d) {
                d_->RegisterTotp(Ctx(), user, "secret-seed", {"secret-hash"}, std::move(d));
              }).ok());
  auto read = d_->Get(*admin_, Users(), user);
  ASSERT_TRUE(read.ok());
  std::string shown = json::serialize(read->data);
  EXPECT_EQ(shown.find("secret"), std::string::npos) << shown;
  auto audit = d_->ListAudit(*admin_, 5, "");
  ASSERT_TRUE(audit.ok());
  ASSERT_FALSE(audit->items.empty());
  std::string newest = json::serialize(audit->items[0].data);
  EXPECT_NE(newest.find("User registered security info"), std::string::npos) << newest;
  EXPECT_EQ(newest.find("secret"), std::string::npos) << newest;
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  auto foreign = testing::ContextForTest::TokenService(other->tenant.id);
  EXPECT_EQ(d_->ReadSecurityInfo(foreign, user).status().code(), Code::kNotFound);
  EXPECT_EQ(Wait([&](WriteDone d) { d_->UseTotpStep(foreign, user, 5, std::move(d)); }).code(),
            Code::kNotFound);
}

}  // namespace
}  // namespace meridian::directory
