// Passwords in the directory: the configured hashing at every place that hashes, and the
// compare-and-set re-hash that sign-in will call, and the user's own change of a password that
// must change.
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/password.h"
#include "directory/password_policy.h"
#include "directory/testing/fixture.h"

namespace meridian::testing {
namespace {

class PasswordsTest : public DirectoryFixture {
 protected:
  std::string StoredHash(const std::string& user_id) {
    auto u = d_->Get(*admin_, Users(), user_id);
    EXPECT_TRUE(u.ok()) << u.status().ToString();
    return u.ok() ? std::string(u->secret.at("passwordHash").as_string()) : "";
  }
  // True when `hash` is under `config`'s algorithm and parameters and matches `password`.
  void ExpectHashedAs(const std::string& hash, const std::string& password,
                      const crypto::PasswordHashing& config) {
    EXPECT_FALSE(crypto::NeedsRehash(hash, config)) << hash;
    auto ok = crypto::VerifyPassword(password, hash);
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_TRUE(*ok) << hash;
  }
};

TEST_F(PasswordsTest, EveryPasswordIsHashedAsConfigured) {
  const auto argon2 = crypto::PasswordHashing::Argon2id({64, 1, 1});
  password_hashing_ = argon2;
  Reopen();
  const std::string prefix = "$argon2id$v=19$m=64,t=1,p=1$";

  // A new tenant's first administrator.
  auto t = d_->CreateTenant("Fabrikam", "US");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  auto fabrikam_admin = ContextForTest::User(t->tenant.id, t->admin_id);
  auto admin = d_->Get(fabrikam_admin, Users(), t->admin_id);
  ASSERT_TRUE(admin.ok());
  std::string admin_hash(admin->secret.at("passwordHash").as_string());
  EXPECT_TRUE(StartsWith(admin_hash, prefix)) << admin_hash;
  ExpectHashedAs(admin_hash, t->admin_password, argon2);

  // A user created through the API, then its password reset.
  std::string id = MakeUser("adele", "Adele Vance");
  EXPECT_TRUE(StartsWith(StoredHash(id), prefix)) << StoredHash(id);
  ExpectHashedAs(StoredHash(id), "Str0ng!Passw0rd", argon2);
  ASSERT_TRUE(d_->Update(*admin_, Users(), id,
                         {{"passwordProfile", {{"password", "Fresh!Secret-42"}}}}, std::nullopt)
                  .ok());
  ExpectHashedAs(StoredHash(id), "Fresh!Secret-42", argon2);

  // The operator's break-glass administrator.
  auto restored = d_->RestoreAdministrator(tenant_.tenant.id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  std::string restored_hash = StoredHash(restored->user_id);
  EXPECT_TRUE(StartsWith(restored_hash, prefix)) << restored_hash;
  ExpectHashedAs(restored_hash, restored->one_time_password, argon2);

  // The same directory under PBKDF2 again: new hashes follow, old ones still verify.
  password_hashing_ = crypto::PasswordHashing::Pbkdf2(1500);
  Reopen();
  std::string later = MakeUser("alex", "Alex Wilber");
  ExpectHashedAs(StoredHash(later), "Str0ng!Passw0rd", password_hashing_);
  EXPECT_TRUE(*crypto::VerifyPassword("Fresh!Secret-42", StoredHash(id)));
  EXPECT_TRUE(crypto::NeedsRehash(StoredHash(id), password_hashing_));
}

TEST_F(PasswordsTest, OpenRefusesHashingOutsideTheCaps) {
  DirectoryOptions o;
  o.data_dir = dir_ + "/other";
  o.password_hashing = crypto::PasswordHashing::Argon2id({crypto::kMaxArgon2MemoryKib * 2, 1, 1});
  auto d = Directory::Open(o);
  EXPECT_EQ(d.status().code(), Code::kInvalidArgument);
  o.password_hashing = crypto::PasswordHashing::Pbkdf2(0);
  EXPECT_EQ(Directory::Open(o).status().code(), Code::kInvalidArgument);
}

// ---- The password policy where passwords are set

TEST_F(PasswordsTest, PasswordsOutsideThePolicyAreRefusedBeforeAnyHash) {
  auto lsns = d_->PartitionLsns();
  for (const char* weak :
       {"P@ssw0rd!", "Password123!", "short1!", "alllowercase", "Caf\xc3\xa9!2024x"}) {
    auto body = NewUser("weak", "Weak Example");
    body["passwordProfile"] = {{"password", weak}};
    auto r = d_->Create(*admin_, Users(), body);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << weak;
    EXPECT_EQ(r.status().graph_code(), "Request_BadRequest") << weak;
  }
  EXPECT_EQ(d_->PartitionLsns(), lsns) << "refused writes log nothing";
  std::string id = MakeUser("adele", "Adele Vance");
  lsns = d_->PartitionLsns();
  int64_t drawn = drawn_bytes_;
  auto reset = d_->Update(*admin_, Users(), id, {{"passwordProfile", {{"password", "Welcome1!"}}}},
                          std::nullopt);
  EXPECT_EQ(reset.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(drawn_bytes_, drawn) << "no salt was drawn: no hash was spent on a refused password";
  EXPECT_EQ(d_->PartitionLsns(), lsns);
}

TEST_F(PasswordsTest, NamesAreCheckedAsTheWriteWouldStoreThem) {
  // Creation: the user's own names, and the organization's ("Contoso").
  auto named = NewUser("adele", "Adele Vance");
  named["passwordProfile"] = {{"password", "Vance!Harbor47"}};
  auto r = d_->Create(*admin_, Users(), named);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("name"), std::string::npos) << r.status().message();
  named["passwordProfile"] = {{"password", "C0nt0so!Harbor47"}};
  EXPECT_EQ(d_->Create(*admin_, Users(), named).status().code(), Code::kInvalidArgument);
  named["passwordProfile"] = {{"password", "Quiet!Harbor47"}};
  auto created = d_->Create(*admin_, Users(), named);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  std::string id = created->object.id;

  // A reset: the names stored, or those the same PATCH sets.
  auto lsns = d_->PartitionLsns();
  EXPECT_EQ(d_->Update(*admin_, Users(), id,
                       {{"passwordProfile", {{"password", "Adele#Dunes-88"}}}}, std::nullopt)
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(d_->Update(*admin_, Users(), id,
                       {{"displayName", "Harbor Lights"},
                        {"passwordProfile", {{"password", "Harbor!Dunes-88"}}}},
                       std::nullopt)
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(d_->PartitionLsns(), lsns) << "refused writes log nothing";
  EXPECT_TRUE(*crypto::VerifyPassword("Quiet!Harbor47", StoredHash(id)));
  // Once the name is another, the old one may be used.
  ASSERT_TRUE(d_->Update(*admin_, Users(), id,
                         {{"displayName", "Harbor Lights"},
                          {"surname", "Lights"},
                          {"givenName", "Harbor"},
                          {"userPrincipalName", "hl@" + tenant_.tenant.domains[0]},
                          {"passwordProfile", {{"password", "Adele#Dunes-88"}}}},
                         std::nullopt)
                  .ok());
  EXPECT_TRUE(*crypto::VerifyPassword("Adele#Dunes-88", StoredHash(id)));
}

TEST_F(PasswordsTest, GeneratedPasswordsSatisfyThePolicy) {
  // The first administrator's one-time password, and the break-glass administrator's.
  auto admin = d_->Get(*admin_, Users(), tenant_.admin_id);
  ASSERT_TRUE(admin.ok());
  EXPECT_TRUE(
      CheckPasswordPolicy(tenant_.admin_password, PasswordOwnerOf(admin->data, "Contoso")).ok())
      << tenant_.admin_password;
  for (int i = 0; i < 5; ++i) {
    auto restored = d_->RestoreAdministrator(tenant_.tenant.id);
    ASSERT_TRUE(restored.ok()) << restored.status().ToString();
    auto user = d_->Get(*admin_, Users(), restored->user_id);
    ASSERT_TRUE(user.ok());
    EXPECT_TRUE(
        CheckPasswordPolicy(restored->one_time_password, PasswordOwnerOf(user->data, "Contoso"))
            .ok())
        << restored->one_time_password;
    EXPECT_TRUE(*crypto::VerifyPassword(restored->one_time_password,
                                        std::string(user->secret.at("passwordHash").as_string())));
  }
}

// The first sign-in of a user whose password must change: the page proves the old password, then
// the user's new one is stored under the policy, once.
TEST_F(PasswordsTest, AUserChangesAPasswordThatMustChangeOnceUnderThePolicy) {
  std::string id = MakeUser("adele", "Adele Vance");
  std::string old = StoredHash(id);
  auto user = d_->Get(*admin_, Users(), id);
  ASSERT_TRUE(user.ok());
  ASSERT_TRUE(user->secret.at("forceChangePasswordNextSignIn").as_bool());
  auto ctx = ContextForTest::TokenService(tenant_.tenant.id);
  auto lsns = d_->PartitionLsns();
  // Refused, nothing logged: the policy, the user's own name, the same password again.
  for (const char* bad : {"short", "Adele!Vance-2024x", "Str0ng!Passw0rd"}) {
    Status s = d_->ChangePasswordAtSignIn(ctx, id, old, bad);
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << bad << ": " << s.ToString();
  }
  EXPECT_EQ(d_->PartitionLsns(), lsns);
  EXPECT_EQ(StoredHash(id), old);

  ASSERT_TRUE(d_->ChangePasswordAtSignIn(ctx, id, old, "Quiet!Harbour-81").ok());
  ExpectHashedAs(StoredHash(id), "Quiet!Harbour-81", password_hashing_);
  user = d_->Get(*admin_, Users(), id);
  ASSERT_TRUE(user.ok());
  EXPECT_FALSE(user->secret.at("forceChangePasswordNextSignIn").as_bool());
  auto audit = d_->ListAudit(*admin_, 1, "");
  ASSERT_TRUE(audit.ok());
  EXPECT_EQ(audit->items[0].data.at("activityDisplayName").as_string(), "Change user password");
  auto in = d_->SignInWithPassword(ctx, "adele@" + tenant_.tenant.domains[0], "Quiet!Harbour-81");
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_FALSE(in->must_change_password);

  // The proof of the old password is spent: a second change with it is refused.
  EXPECT_EQ(d_->ChangePasswordAtSignIn(ctx, id, old, "Other!Harbour-92").code(),
            Code::kFailedPrecondition);
  ExpectHashedAs(StoredHash(id), "Quiet!Harbour-81", password_hashing_);
  // Another tenant's context reaches no such user.
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(d_->ChangePasswordAtSignIn(ContextForTest::TokenService(other->tenant.id), id,
                                       StoredHash(id), "Other!Harbour-92")
                .code(),
            Code::kNotFound);
}

// A user created under PBKDF2 (1,000 iterations), and the directory reopened under Argon2id: the
// stored hash is due a rehash, as at a sign-in after the operator changed the configuration.
class UpgradeTest : public PasswordsTest {
 protected:
  void SetUp() override {
    PasswordsTest::SetUp();
    id_ = MakeUser("adele", "Adele Vance");
    old_ = StoredHash(id_);
    password_hashing_ = crypto::PasswordHashing::Argon2id({64, 1, 1});
    Reopen();
    ASSERT_TRUE(crypto::NeedsRehash(old_, password_hashing_));
    fresh_ = *crypto::HashPassword("Str0ng!Passw0rd", "0123456789abcdef", password_hashing_);
  }
  std::string LastActivity() {
    auto audit = d_->ListAudit(*admin_, 1, "");
    EXPECT_TRUE(audit.ok());
    return audit.ok() ? std::string(audit->items[0].data.at("activityDisplayName").as_string())
                      : "";
  }
  std::string id_, old_, fresh_;
};

TEST_F(UpgradeTest, WritesTheNewHashWhileTheOldOneIsStored) {
  auto before = d_->Get(*admin_, Users(), id_);
  ASSERT_TRUE(before.ok());
  auto upgraded = d_->UpgradePasswordHash(*admin_, id_, fresh_, old_);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_TRUE(*upgraded);
  EXPECT_EQ(StoredHash(id_), fresh_);
  ExpectHashedAs(StoredHash(id_), "Str0ng!Passw0rd", password_hashing_);

  // Not a password change: its own activity, no property named, nothing else of the user moved.
  auto audit = d_->ListAudit(*admin_, 1, "");
  ASSERT_TRUE(audit.ok());
  const auto& rec = audit->items[0].data;
  EXPECT_EQ(rec.at("activityDisplayName").as_string(), "Update user password hash");
  const auto& target = rec.at("targetResources").as_array()[0].as_object();
  EXPECT_EQ(target.at("id").as_string(), id_);
  EXPECT_FALSE(target.contains("modifiedProperties")) << json::serialize(rec);
  auto after = d_->Get(*admin_, Users(), id_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(json::serialize(after->data), json::serialize(before->data));
  EXPECT_EQ(after->secret.at("forceChangePasswordNextSignIn"),
            before->secret.at("forceChangePasswordNextSignIn"));

  // Once written, the same upgrade finds the hash changed: false, and nothing more is logged.
  auto lsns = d_->PartitionLsns();
  auto again = d_->UpgradePasswordHash(*admin_, id_, fresh_, old_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  EXPECT_EQ(d_->PartitionLsns(), lsns);
}

TEST_F(UpgradeTest, APasswordSetMeanwhileIsNeverOverwritten) {
  // The password is reset between the sign-in's read of the old hash and its upgrade.
  ASSERT_TRUE(d_->Update(*admin_, Users(), id_,
                         {{"passwordProfile", {{"password", "Reset!Meanwhile-7"}}}}, std::nullopt)
                  .ok());
  std::string reset = StoredHash(id_);
  auto lsns = d_->PartitionLsns();
  auto upgraded = d_->UpgradePasswordHash(*admin_, id_, fresh_, old_);
  ASSERT_TRUE(upgraded.ok()) << upgraded.status().ToString();
  EXPECT_FALSE(*upgraded);
  EXPECT_EQ(StoredHash(id_), reset);
  EXPECT_TRUE(*crypto::VerifyPassword("Reset!Meanwhile-7", StoredHash(id_)));
  EXPECT_EQ(d_->PartitionLsns(), lsns) << "a failed compare logs nothing";
  EXPECT_EQ(LastActivity(), "Reset user password");
}

TEST_F(UpgradeTest, RefusesHashesTheConfigurationWouldNotKeep) {
  auto lsns = d_->PartitionLsns();
  // Malformed, a downgrade to the old algorithm, and weaker Argon2id than configured.
  for (const std::string& bad :
       {std::string("not a hash"), old_,
        *crypto::HashPassword("Str0ng!Passw0rd", "0123456789abcdef",
                              crypto::PasswordHashing::Argon2id({32, 1, 1}))}) {
    auto r = d_->UpgradePasswordHash(*admin_, id_, bad, old_);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(StoredHash(id_), old_);
  EXPECT_EQ(d_->PartitionLsns(), lsns);
}

TEST_F(UpgradeTest, ReachesOnlyUsersOfTheContextsTenant) {
  EXPECT_EQ(d_->UpgradePasswordHash(*admin_, "00000000-0000-4000-8000-000000000000", fresh_, old_)
                .status()
                .code(),
            Code::kNotFound);
  // Another tenant's context names the same id: that tenant has no such user.
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  auto them = ContextForTest::User(other->tenant.id, other->admin_id);
  EXPECT_EQ(d_->UpgradePasswordHash(them, id_, fresh_, old_).status().code(), Code::kNotFound);
  EXPECT_EQ(StoredHash(id_), old_);
  // Not a user: a group's id is not upgraded either.
  std::string group = MakeGroup("Sales");
  EXPECT_FALSE(d_->UpgradePasswordHash(*admin_, group, fresh_, old_).ok());
}

}  // namespace
}  // namespace meridian::testing
