// Password sign-in with smart lockout: ten failures lock a name for 60 s, then twice as long each
// time; a name nobody has gets exactly the answers a real one does; a success starts the count
// again; concurrent failures are all counted, in the tenant's partition.
#include "directory/lockout.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "directory/testing/fixture.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;
constexpr char kPassword[] = "Str0ng!Passw0rd";  // the fixture's users'

class LockoutTest : public testing::DirectoryFixture {
 protected:
  SecurityContext Ctx() { return testing::ContextForTest::TokenService(tenant_.tenant.id); }
  std::string Upn(const std::string& alias) { return alias + "@" + tenant_.tenant.domains[0]; }
  // The Entra code of a sign-in's refusal, or "ok".
  std::string Try(const std::string& login, const std::string& password) {
    auto r = d_->SignInWithPassword(Ctx(), login, password);
    if (r.ok()) return "ok";
    EXPECT_EQ(r.status().code(), Code::kUnauthenticated) << r.status().ToString();
    return r.status().graph_code();
  }
};

TEST_F(LockoutTest, TheRightPasswordSignsInAndAWrongOneIsRefused) {
  std::string id = MakeUser("adele", "Adele Vance");
  auto in = d_->SignInWithPassword(Ctx(), Upn("ADELE"), kPassword);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->user.id, id);
  EXPECT_TRUE(in->must_change_password);  // as Entra, a new user's password must change
  EXPECT_EQ(Try(Upn("adele"), "wrong"), "AADSTS50126");
  // The first administrator signs in with its one-time password, which must change.
  auto admin = d_->SignInWithPassword(Ctx(), tenant_.admin_upn, tenant_.admin_password);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_TRUE(admin->must_change_password);
}

TEST_F(LockoutTest, TenFailuresLockTheNameForAMinuteThenTwiceAsLong) {
  MakeUser("megan", "Megan Bowen");
  for (int i = 0; i < 9; ++i)
    EXPECT_EQ(Try(Upn("megan"), "guess" + std::to_string(i)), "AADSTS50126");
  EXPECT_EQ(Try(Upn("megan"), "guess9"), "AADSTS50053");
  // Locked: even the right password is refused, without a check of it.
  EXPECT_EQ(Try(Upn("megan"), kPassword), "AADSTS50053");
  clock_.Advance(59'000);
  EXPECT_EQ(Try(Upn("megan"), kPassword), "AADSTS50053");
  clock_.Advance(1'000);
  EXPECT_EQ(Try(Upn("megan"), kPassword), "ok");
  // The success started the count again: nine more failures do not lock.
  for (int i = 0; i < 9; ++i) EXPECT_EQ(Try(Upn("megan"), "again"), "AADSTS50126");
  EXPECT_EQ(Try(Upn("megan"), "again"), "AADSTS50053");  // the second lock: 120 s
  clock_.Advance(60'000);
  EXPECT_EQ(Try(Upn("megan"), kPassword), "AADSTS50053");
  clock_.Advance(60'000);
  EXPECT_EQ(Try(Upn("megan"), kPassword), "ok");
}

TEST_F(LockoutTest, ANameNobodyHasIsAnsweredAsARealOne) {
  MakeUser("lidia", "Lidia Holloway");
  std::vector<std::string> real, ghost;
  for (int i = 0; i < 11; ++i) {
    real.push_back(Try(Upn("lidia"), "nope"));
    ghost.push_back(Try(Upn("nobody"), "nope"));
  }
  EXPECT_EQ(real, ghost);
  EXPECT_EQ(ghost.back(), "AADSTS50053");
  auto a = d_->SignInWithPassword(Ctx(), Upn("nobody2"), "x");
  auto b = d_->SignInWithPassword(Ctx(), Upn("lidia2"), "x");
  EXPECT_EQ(a.status().message(), b.status().message());
}

TEST_F(LockoutTest, ADisabledAccountIsToldSoOnlyWithItsPassword) {
  std::string id = MakeUser("joni", "Joni Sherman");
  ASSERT_TRUE(d_->Update(*admin_, Users(), id, {{"accountEnabled", false}}, std::nullopt).ok());
  EXPECT_EQ(Try(Upn("joni"), "wrong"), "AADSTS50126");
  EXPECT_EQ(Try(Upn("joni"), kPassword), "AADSTS50057");
}

TEST_F(LockoutTest, ConcurrentFailuresAreAllCounted) {
  MakeUser("grady", "Grady Archie");
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&] { d_->SignInWithPassword(Ctx(), Upn("grady"), "wrong"); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Try(Upn("grady"), kPassword), "AADSTS50053");
}

TEST_F(LockoutTest, ASignInReHashesAWeakerHashToTheConfiguration) {
  std::string id = MakeUser("patti", "Patti Fernandez");
  auto hash = [&] {
    return std::string(d_->Get(*admin_, Users(), id)->secret.at("passwordHash").as_string());
  };
  EXPECT_NE(hash().find("i=1000$"), std::string::npos) << hash();
  password_hashing_ = crypto::PasswordHashing::Pbkdf2(2000);
  Reopen();
  auto in = d_->SignInWithPassword(Ctx(), Upn("patti"), kPassword);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_NE(hash().find("i=2000$"), std::string::npos) << hash();
  EXPECT_EQ(in->stored_hash, hash());
  // The new hash signs in; a wrong password still does not.
  EXPECT_EQ(Try(Upn("patti"), kPassword), "ok");
  EXPECT_EQ(Try(Upn("patti"), "wrong"), "AADSTS50126");
}

TEST(LockoutPolicyTest, LocksDoubleUpToTheCap) {
  LockoutPolicy policy;
  policy.threshold = 2;
  std::optional<Grant> record;
  std::vector<int64_t> locks;
  int64_t now = 1'000'000;
  for (int i = 0; i < 16; ++i) {
    GrantChange c = AfterFailure(record, now, policy);
    record = Grant{"lockout", "h", *c.data, c.expires_ms, 1};
    if (auto until = LockedUntil(record, now)) {
      locks.push_back(*until - now);
      now = *until;
    }
  }
  EXPECT_EQ(locks, (std::vector<int64_t>{60'000, 120'000, 240'000, 480'000, 960'000, 1'920'000,
                                         3'600'000, 3'600'000}));
  EXPECT_EQ(LockoutHandle("Adele@Contoso.com"), LockoutHandle("adele@contoso.com"));
}

}  // namespace
}  // namespace meridian::directory
