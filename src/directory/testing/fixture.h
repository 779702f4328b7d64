// A test fixture for the directory: a fresh data directory, a seeded random source, a manual
// clock, and one tenant ("Contoso", DE) whose first administrator acts as admin_. Test-only.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "directory/directory.h"
#include "directory/testing/contexts.h"

namespace meridian::testing {

using namespace directory;  // NOLINT: fixtures read like the tests that use them
namespace json = boost::json;

// A Random that counts the bytes drawn from it, so a test can see what was (not) computed.
class CountingRandom final : public Random {
 public:
  CountingRandom(std::unique_ptr<Random> base, int64_t* drawn)
      : base_(std::move(base)), drawn_(drawn) {}
  void Fill(uint8_t* out, size_t n) override {
    *drawn_ += static_cast<int64_t>(n);
    base_->Fill(out, n);
  }

 private:
  std::unique_ptr<Random> base_;
  int64_t* drawn_;
};

class DirectoryFixture : public ::testing::Test {
 protected:
  using Object = directory::Object;
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-dir-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    random_ = std::make_unique<CountingRandom>(NewSeededRandom(42), &drawn_bytes_);
    Reopen();
    auto t = d_->CreateTenant("Contoso", "DE");
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tenant_ = *t;
    admin_ = std::make_unique<SecurityContext>(
        testing::ContextForTest::User(tenant_.tenant.id, tenant_.admin_id));
  }
  void TearDown() override {
    d_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    d_.reset();
    DirectoryOptions o;
    o.data_dir = dir_;
    o.clock = &clock_;
    o.random = random_.get();
    o.password_hashing = password_hashing_;
    o.sync = false;
    o.max_unindexed_scan = 20;
    o.env = env_;
    if (!fault_point_.empty()) {
      o.fault_point = [point = fault_point_](std::string_view at) {
        return at == point ? Internal("injected crash at " + point) : Status::Ok();
      };
    }
    auto d = Directory::Open(o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    d_ = std::move(d).value();
  }
  const TypeSchema& Users() { return *FindType("user"); }
  const TypeSchema& Groups() { return *FindType("group"); }
  json::object NewUser(const std::string& alias, const std::string& name) {
    return {{"accountEnabled", true},
            {"displayName", name},
            {"mailNickname", alias},
            {"userPrincipalName", alias + "@" + tenant_.tenant.domains[0]},
            {"passwordProfile", {{"password", "Str0ng!Passw0rd"}}}};
  }
  std::string MakeUser(const std::string& alias, const std::string& name) {
    auto r = d_->Create(*admin_, Users(), NewUser(alias, name));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->object.id : "";
  }
  std::string MakeGroup(const std::string& name) {
    auto r = d_->Create(*admin_, Groups(),
                        {{"displayName", name},
                         {"mailEnabled", false},
                         {"mailNickname", name},
                         {"securityEnabled", true}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->object.id : "";
  }
  std::vector<std::string> Names(const Page& p) {
    std::vector<std::string> out;
    for (const auto& o : p.items) out.emplace_back(o.data.at("displayName").as_string());
    return out;
  }

  std::string dir_;
  std::string fault_point_;
  rocksdb::Env* env_ = nullptr;  // the next Reopen()'s RocksDB environment; nullptr: the real one  // where the next Reopen()'s directory stops, as a crash would
  // How the next Reopen()'s directory hashes passwords: fast PBKDF2 unless a test says otherwise.
  crypto::PasswordHashing password_hashing_ = crypto::PasswordHashing::Pbkdf2(1000);
  ManualClock clock_;
  int64_t drawn_bytes_ = 0;  // from random_
  std::unique_ptr<Random> random_;
  std::unique_ptr<Directory> d_;
  NewTenant tenant_;
  std::unique_ptr<SecurityContext> admin_;
};

}  // namespace meridian::testing
