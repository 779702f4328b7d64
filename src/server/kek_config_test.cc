#include "server/kek_config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/testing/files.h"
#include "common/testing/temp_dir.h"
#include "crypto/tls_cert.h"

namespace meridian::server {
namespace {

constexpr uint64_t kSeed = 77;

class KekConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { std::cout << "seed " << kSeed << std::endl; }
  // A store that holds no sealed secrets, counting how often it is asked.
  SealedUnder Empty() {
    return [this]() -> Result<std::optional<std::string>> {
      ++asked_;
      return std::optional<std::string>();
    };
  }
  testing::TempDir dir_;
  std::unique_ptr<Random> random_ = NewSeededRandom(kSeed);
  crypto::Kek kek_ = crypto::Kek::Generate(*random_);
  int asked_ = 0;
};

TEST_F(KekConfigTest, TheEnvironmentVariableOrANamedFile) {
  auto loaded = LoadKek({"", kek_.ToText(), dir_.File("kek.key")}, Empty(), *random_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->kek.IdHex(), kek_.IdHex());
  EXPECT_EQ(loaded->origin, kKekVariable);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("kek.key")));  // the default is not made

  ASSERT_TRUE(crypto::WritePrivateFile(dir_.File("mine"), kek_.ToText() + "\n").ok());
  loaded = LoadKek({dir_.File("mine"), std::nullopt, ""}, Empty(), *random_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->kek.IdHex(), kek_.IdHex());
  EXPECT_EQ(loaded->origin, dir_.File("mine"));
  EXPECT_FALSE(loaded->generated);
  EXPECT_EQ(asked_, 0);
}

TEST_F(KekConfigTest, MistakesAreRefusedWithoutQuotingTheKey) {
  std::string text = kek_.ToText();
  ASSERT_TRUE(crypto::WritePrivateFile(dir_.File("mine"), text).ok());
  auto both = LoadKek({dir_.File("mine"), text, ""}, Empty(), *random_);
  EXPECT_EQ(both.status().code(), Code::kInvalidArgument);

  auto bad_env = LoadKek({"", text.substr(0, 40), ""}, Empty(), *random_);
  EXPECT_EQ(bad_env.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_env.status().message().find(kKekVariable), std::string::npos);
  EXPECT_EQ(bad_env.status().message().find(text.substr(0, 20)), std::string::npos);

  ASSERT_TRUE(crypto::WritePrivateFile(dir_.File("short"), text.substr(0, 40)).ok());
  auto bad_file = LoadKek({dir_.File("short"), std::nullopt, ""}, Empty(), *random_);
  EXPECT_EQ(bad_file.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_file.status().message().find(dir_.File("short")), std::string::npos);
  EXPECT_EQ(bad_file.status().message().find(text.substr(0, 20)), std::string::npos);

  auto missing =
      LoadKek({dir_.File("nowhere"), std::nullopt, dir_.File("kek.key")}, Empty(), *random_);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir_.File("kek.key")));  // a named file is never made
}

TEST_F(KekConfigTest, AClusterNodeMustBeGivenOne) {
  auto none = LoadKek({"", std::nullopt, ""}, Empty(), *random_);
  EXPECT_EQ(none.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("kek_file"), std::string::npos);
  EXPECT_EQ(asked_, 0);
}

TEST_F(KekConfigTest, TheEmbeddedDefaultMakesItsOwnOnceOwnerOnly) {
  std::string file = dir_.File("kek.key");
  auto made = LoadKek({"", std::nullopt, file}, Empty(), *random_);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_TRUE(made->generated);
  EXPECT_EQ(made->origin, file);
  EXPECT_EQ(asked_, 1);
  EXPECT_EQ(testing::ModeOf(file), 0600u);
  auto from_file = crypto::Kek::FromText(testing::ReadAll(file));
  ASSERT_TRUE(from_file.ok());
  EXPECT_EQ(from_file->IdHex(), made->kek.IdHex());
  // The next start reads it.
  auto again = LoadKek({"", std::nullopt, file}, Empty(), *random_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->generated);
  EXPECT_EQ(again->kek.IdHex(), made->kek.IdHex());
  EXPECT_EQ(asked_, 1);
}

TEST_F(KekConfigTest, NoneIsMadeForAStoreSealedUnderAnother) {
  std::string file = dir_.File("kek.key");
  auto sealed = LoadKek(
      {"", std::nullopt, file},
      [] {
        return Result<std::optional<std::string>>(std::optional<std::string>("0123456789abcdef"));
      },
      *random_);
  ASSERT_FALSE(sealed.ok());
  EXPECT_EQ(sealed.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(sealed.status().message().find("0123456789abcdef"), std::string::npos);
  EXPECT_NE(sealed.status().message().find(file), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(file));

  auto unreadable = LoadKek(
      {"", std::nullopt, file}, [] { return Result<std::optional<std::string>>(Internal("disk")); },
      *random_);
  EXPECT_EQ(unreadable.status().code(), Code::kInternal);
  EXPECT_FALSE(std::filesystem::exists(file));
}

}  // namespace
}  // namespace meridian::server
