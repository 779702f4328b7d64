// Passwords in the directory: the configured hashing at every place that hashes.
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "crypto/password.h"
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

}  // namespace
}  // namespace meridian::testing
