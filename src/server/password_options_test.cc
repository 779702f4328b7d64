#include "server/password_options.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/testing/temp_dir.h"

namespace meridian::server {
namespace {

TEST(PasswordOptions, DefaultsArePbkdf2AtOwaspsCount) {
  auto h = ToPasswordHashing(PasswordOptions{});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(*h, crypto::PasswordHashing::Pbkdf2(600000));
}

TEST(PasswordOptions, FlagsSelectArgon2idAndItsParameters) {
  PasswordOptions o;
  o.algorithm = "argon2id";
  auto h = ToPasswordHashing(o);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->algorithm, crypto::PasswordAlgorithm::kArgon2id);
  EXPECT_EQ(h->argon2, (crypto::Argon2Params{19456, 2, 1}));
  o.argon2_params = "m=65536,t=3,p=2";
  EXPECT_EQ(ToPasswordHashing(o)->argon2, (crypto::Argon2Params{65536, 3, 2}));
}

TEST(PasswordOptions, RefusesWhatCannotBeHashedOrVerified) {
  auto refused = [](PasswordOptions o) { return !ToPasswordHashing(o).ok(); };
  EXPECT_TRUE(refused({.algorithm = "bcrypt"}));
  EXPECT_TRUE(refused({.iterations = 0}));
  EXPECT_TRUE(refused({.iterations = crypto::kMaxPbkdf2Iterations + 1}));
  EXPECT_TRUE(refused({.algorithm = "argon2id", .argon2_params = "m=19456,t=2"}));
  EXPECT_TRUE(refused({.algorithm = "argon2id", .argon2_params = "m=1048576,t=2,p=1"}));
  EXPECT_FALSE(refused({.iterations = 1000}));
}

TEST(PasswordOptions, TomlKeysReplaceTheFlagsWhenPresent) {
  testing::TempDir dir;
  std::string path = dir.File("node.toml");
  std::ofstream(path) << "node = \"n1\"\npassword_algorithm = \"argon2id\"\n"
                         "argon2_params = \"m=32768,t=3,p=1\"\n";
  PasswordOptions o;
  o.iterations = 1000;
  ASSERT_TRUE(ReadPasswordOptions(path, &o).ok());
  EXPECT_EQ(o.algorithm, "argon2id");
  EXPECT_EQ(o.argon2_params, "m=32768,t=3,p=1");
  EXPECT_EQ(o.iterations, 1000) << "absent from the file: the flag stays";

  std::ofstream(path) << "password_iterations = \"many\"\n";
  Status s = ReadPasswordOptions(path, &o);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("password_iterations"), std::string::npos) << s.message();
  std::ofstream(path) << "password_iterations = 3000000000\n";
  EXPECT_FALSE(ReadPasswordOptions(path, &o).ok());
  EXPECT_FALSE(ReadPasswordOptions(path + ".missing", &o).ok());
}

}  // namespace
}  // namespace meridian::server
