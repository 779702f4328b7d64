// Temporary Access Pass: issued by an administrator who may reset the user's password, shown
// once, kept as a hash; it signs the user in within its lifetime (once, when usable once), under
// the same lockout as a password; one per user at a time; deleted on request.
#include "directory/temporary_access_pass.h"

#include <gtest/gtest.h>

#include "directory/testing/fixture.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;

class TapTest : public testing::DirectoryFixture {
 protected:
  SecurityContext Auth() { return testing::ContextForTest::TokenService(tenant_.tenant.id); }
  std::string Upn(const std::string& alias) { return alias + "@" + tenant_.tenant.domains[0]; }
  Result<WriteResult> Issue(const SecurityContext& ctx, const std::string& user, json::object body) {
    Result<WriteResult> out = Internal("not answered");
    d_->IssueTemporaryAccessPass(ctx, user, body, [&](Result<WriteResult> r) { out = r; });
    return out;
  }
  // "ok" or the Entra code of the refusal.
  std::string SignIn(const std::string& login, const std::string& pass) {
    std::string out = "not answered";
    d_->SignInWithTemporaryAccessPass(Auth(), login, pass, [&](Result<PasswordSignIn> r) {
      out = r.ok() ? "ok" : r.status().graph_code();
    });
    return out;
  }
};

TEST_F(TapTest, APassIsShownOnceAndSignsInOnceWhenUsableOnce) {
  std::string user = MakeUser("adele", "Adele Vance");
  auto issued = Issue(*admin_, user, {{"lifetimeInMinutes", 60}, {"isUsableOnce", true}});
  ASSERT_TRUE(issued.ok()) << issued.status().ToString();
  const json::object& m = issued->object.data;
  std::string pass(m.at("temporaryAccessPass").as_string());
  EXPECT_EQ(pass.size(), 12u);
  EXPECT_TRUE(m.at("isUsable").as_bool());
  EXPECT_EQ(m.at("methodUsabilityReason").as_string(), "EnabledByPolicy");
  // Stored as a hash only; listed without the pass.
  auto stored = d_->Get(*admin_, Users(), user);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(json::serialize(stored->secret).find(pass), std::string::npos);
  auto listed = d_->TemporaryAccessPasses(*admin_, user);
  ASSERT_TRUE(listed.ok() && listed->size() == 1);
  EXPECT_TRUE((*listed)[0].at("temporaryAccessPass").is_null());
  // One at a time.
  EXPECT_EQ(Issue(*admin_, user, {}).status().code(), Code::kAlreadyExists);

  EXPECT_EQ(SignIn(Upn("adele"), "WRONGPASS123"), "AADSTS50126");
  EXPECT_EQ(SignIn(Upn("adele"), pass), "ok");
  EXPECT_EQ(SignIn(Upn("adele"), pass), "AADSTS50126") << "usable once";
  EXPECT_EQ((*d_->TemporaryAccessPasses(*admin_, user))[0].at("methodUsabilityReason").as_string(),
            "OneTimeUsed");
  // A spent pass may be replaced.
  EXPECT_TRUE(Issue(*admin_, user, {}).ok());
}

TEST_F(TapTest, APassWorksOnlyWithinItsLifetime) {
  std::string user = MakeUser("megan", "Megan Bowen");
  auto issued = Issue(*admin_, user, {{"lifetimeInMinutes", 10}});
  ASSERT_TRUE(issued.ok());
  std::string pass(issued->object.data.at("temporaryAccessPass").as_string());
  EXPECT_EQ(SignIn(Upn("megan"), pass), "ok");
  EXPECT_EQ(SignIn(Upn("megan"), pass), "ok") << "not usable once";
  clock_.Advance(10 * 60'000);
  EXPECT_EQ(SignIn(Upn("megan"), pass), "AADSTS50126");
  EXPECT_EQ((*d_->TemporaryAccessPasses(*admin_, user))[0].at("methodUsabilityReason").as_string(),
            "Expired");
  // A pass that starts later does not work before.
  auto later = Issue(*admin_, user, {{"startDateTime", FormatIso8601(clock_.NowMillis() + 3'600'000)}});
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  std::string next(later->object.data.at("temporaryAccessPass").as_string());
  EXPECT_EQ(SignIn(Upn("megan"), next), "AADSTS50126");
  clock_.Advance(3'600'000);
  EXPECT_EQ(SignIn(Upn("megan"), next), "ok");
}

TEST_F(TapTest, BadRequestsAndTheUnauthorizedAreRefused) {
  std::string user = MakeUser("lidia", "Lidia Holloway");
  EXPECT_EQ(Issue(*admin_, user, {{"lifetimeInMinutes", 5}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Issue(*admin_, user, {{"temporaryAccessPass", "chosen"}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Issue(*admin_, user, {{"startDateTime", "2000-01-01T00:00:00Z"}}).status().code(),
            Code::kInvalidArgument);
  // A member without a role may neither issue nor read one.
  std::string plain = MakeUser("joni", "Joni Sherman");
  auto member = testing::ContextForTest::User(tenant_.tenant.id, plain);
  EXPECT_EQ(Issue(member, user, {}).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(d_->TemporaryAccessPasses(member, user).status().code(), Code::kPermissionDenied);
}

TEST_F(TapTest, WrongPassesCountTowardsTheLockoutAndADeletedPassIsGone) {
  std::string user = MakeUser("grady", "Grady Archie");
  auto issued = Issue(*admin_, user, {});
  ASSERT_TRUE(issued.ok());
  std::string pass(issued->object.data.at("temporaryAccessPass").as_string());
  for (int i = 0; i < 9; ++i) EXPECT_EQ(SignIn(Upn("grady"), "GUESS"), "AADSTS50126");
  EXPECT_EQ(SignIn(Upn("grady"), "GUESS"), "AADSTS50053");
  EXPECT_EQ(SignIn(Upn("grady"), pass), "AADSTS50053");
  clock_.Advance(60'000);
  std::string id(issued->object.data.at("id").as_string());
  Status deleted = Internal("not answered");
  d_->DeleteTemporaryAccessPass(*admin_, user, id, [&](Result<WriteResult> r) { deleted = r.status(); });
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_TRUE(d_->TemporaryAccessPasses(*admin_, user)->empty());
  EXPECT_EQ(SignIn(Upn("grady"), pass), "AADSTS50126");
}

}  // namespace
}  // namespace meridian::directory
