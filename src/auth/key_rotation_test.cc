// Token-signing keys over a real directory: sealed at rest (no PEM in the store or its files),
// rotated on the injected clock (published ahead, signing on time, retired once its tokens
// expired), made by one process only, picked up by the others without a restart, and upgraded
// from the plaintext keys of earlier versions.
#include <gtest/gtest.h>

#include <barrier>
#include <boost/json.hpp>
#include <filesystem>
#include <set>
#include <thread>

#include "auth/token_service.h"
#include "common/encoding.h"
#include "common/testing/files.h"
#include "common/testing/temp_dir.h"
#include "directory/directory.h"

namespace meridian::auth {
namespace {
namespace json = boost::json;

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kSecond = 1000;
constexpr uint64_t kSeed = 424242;

// The directory as one token service sees it, with what the tests need to watch or break: reads
// of the keys are counted, writes of a key can be refused (a node that is not the global
// partition's primary) or held until several writers have built theirs.
class ObservedDirectory final : public directory::ClientDirectory {
 public:
  explicit ObservedDirectory(directory::ClientDirectory* real) : real_(real) {}
  Clock* clock() const override { return real_->clock(); }
  Random* random() const override { return real_->random(); }
  const std::string& cloud() const override { return real_->cloud(); }
  Result<directory::TenantInfo> ResolveTenant(std::string_view id) const override {
    return real_->ResolveTenant(id);
  }
  Result<std::vector<proto::SigningKey>> SigningKeys() const override {
    ++key_reads;
    return real_->SigningKeys();
  }
  Status AddSigningKey(const proto::SigningKey& key) override {
    if (refuse_writes) return *refuse_writes;
    if (writers) writers->arrive_and_wait();
    return real_->AddSigningKey(key);
  }
  Result<directory::Client> AuthenticateClient(const directory::SecurityContext& ctx,
                                               std::string_view app_id,
                                               std::string_view secret) const override {
    return real_->AuthenticateClient(ctx, app_id, secret);
  }
  Result<directory::Client> FindClient(const directory::SecurityContext& ctx,
                                       std::string_view app_id) const override {
    return real_->FindClient(ctx, app_id);
  }
  Result<directory::TokenUser> FindUser(const directory::SecurityContext& ctx,
                                        std::string_view id) const override {
    return real_->FindUser(ctx, id);
  }
  void SignInWithPassword(const directory::SecurityContext& ctx, std::string_view login,
                          std::string_view password,
                          std::function<void(Result<directory::PasswordSignIn>)> done) override {
    real_->SignInWithPassword(ctx, login, password, std::move(done));
  }
  void RegisterTotp(const directory::SecurityContext& ctx, std::string_view user, std::string seed,
                    std::vector<std::string> codes, directory::WriteDone done) override {
    real_->RegisterTotp(ctx, user, std::move(seed), std::move(codes), std::move(done));
  }
  void UseTotpStep(const directory::SecurityContext& ctx, std::string_view user, int64_t step,
                   directory::WriteDone done) override {
    real_->UseTotpStep(ctx, user, step, std::move(done));
  }
  void UseRecoveryCode(const directory::SecurityContext& ctx, std::string_view user,
                       std::string hash, directory::WriteDone done) override {
    real_->UseRecoveryCode(ctx, user, std::move(hash), std::move(done));
  }
  void ChangePasswordAtSignIn(const directory::SecurityContext& ctx, std::string_view user,
                              std::string old_hash, std::string password,
                              std::function<void(Status)> done) override {
    real_->ChangePasswordAtSignIn(ctx, user, std::move(old_hash), std::move(password),
                                  std::move(done));
  }
  Result<std::set<std::string>> GrantedScopes(const directory::SecurityContext& ctx,
                                              std::string_view client, std::string_view resource,
                                              std::string_view user) const override {
    return real_->GrantedScopes(ctx, client, resource, user);
  }
  void ConsentForUser(const directory::SecurityContext& ctx, std::string_view user,
                      std::string_view client, std::string_view resource,
                      const std::set<std::string>& scopes, directory::WriteDone done) override {
    real_->ConsentForUser(ctx, user, client, resource, scopes, std::move(done));
  }
  void RecordSignIn(const directory::SecurityContext& ctx, boost::json::object record,
                    directory::WriteDone done) override {
    real_->RecordSignIn(ctx, std::move(record), std::move(done));
  }
  Result<std::optional<directory::Grant>> ReadGrant(const directory::SecurityContext& ctx,
                                                    std::string_view kind,
                                                    std::string_view handle) const override {
    return real_->ReadGrant(ctx, kind, handle);
  }
  void UpdateGrant(const directory::SecurityContext& ctx, std::string_view kind,
                   std::string_view handle, directory::GrantDecision decide,
                   directory::GrantDone done) override {
    real_->UpdateGrant(ctx, kind, handle, std::move(decide), std::move(done));
  }

  mutable std::atomic<int> key_reads{0};
  std::optional<Status> refuse_writes;
  std::barrier<>* writers = nullptr;

 private:
  directory::ClientDirectory* real_;
};

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::cout << "seed " << kSeed << std::endl;
    random_ = NewSeededRandom(kSeed);
    kek_.emplace(crypto::Kek::Generate(*random_));
    OpenDirectory();
    tenant_ = std::move(directory_->CreateTenant("Contoso", "US")).value();
  }
  void OpenDirectory() {
    directory::DirectoryOptions o;
    o.data_dir = dir_.path();
    o.clock = &clock_;
    o.password_hashing = crypto::PasswordHashing::Pbkdf2(1000);
    directory_ = std::move(directory::Directory::Open(o)).value();
  }
  // A token service of its own over the shared directory: another process of the deployment.
  std::unique_ptr<TokenService> Process(ObservedDirectory* seen = nullptr,
                                        std::optional<crypto::Kek> kek = std::nullopt) {
    TokenServiceOptions o;
    o.public_url = "https://localhost:8443";
    return std::make_unique<TokenService>(
        seen ? static_cast<directory::ClientDirectory*>(seen) : directory_.get(),
        kek ? *kek : *kek_, o);
  }
  std::string Issue(const TokenService& tokens) {
    auto r = tokens.Token(tenant_.tenant.id,
                          {{"grant_type", "client_credentials"},
                           {"client_id", tenant_.app_id},
                           {"client_secret", tenant_.client_secret},
                           {"scope", tokens.options().graph_resource + "/.default"}},
                          std::nullopt);
    EXPECT_TRUE(std::holds_alternative<json::object>(r)) << std::get<OAuthError>(r).description;
    return std::holds_alternative<json::object>(r)
               ? std::string(std::get<json::object>(r).at("access_token").as_string())
               : std::string();
  }
  static std::set<std::string> JwksKids(const TokenService& tokens) {
    std::set<std::string> kids;
    json::object jwks = tokens.Jwks();
    for (const auto& k : jwks.at("keys").as_array()) {
      kids.emplace(k.at("kid").as_string());
    }
    return kids;
  }
  std::vector<proto::SigningKey> Stored() {
    auto keys = directory_->SigningKeys();
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<proto::SigningKey>{};
  }
  // The private key of a stored record, opened with the deployment's KEK.
  crypto::SigningKey PrivateKey(const proto::SigningKey& record) {
    auto pem =
        crypto::Open(*kek_, {"signing-key", "global", record.kid()}, record.sealed_private_key());
    EXPECT_TRUE(pem.ok()) << pem.status().ToString();
    return std::move(crypto::SigningKey::FromPrivatePem(pem.ok() ? *pem : "")).value();
  }
  // Writes a key the way versions before sealing did: its PEM in clear, no schedule.
  std::string AddLegacyKey(int64_t created_ms) {
    auto key = crypto::SigningKey::GenerateRsa2048();
    proto::SigningKey legacy;
    legacy.set_kid(key->kid());
    legacy.set_private_pem(key->PrivatePem());
    legacy.set_created_ms(created_ms);
    EXPECT_TRUE(directory_->AddSigningKey(legacy).ok());
    return key->kid();
  }
  // Every file under the data directory that holds `needle`.
  std::vector<std::string> FilesHolding(std::string_view needle) {
    std::vector<std::string> found;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_.path())) {
      if (e.is_regular_file() &&
          testing::ReadAll(e.path().string()).find(needle) != std::string::npos) {
        found.push_back(e.path().string());
      }
    }
    return found;
  }
  // Every stored value of every partition, the op logs included, that holds `needle`.
  std::vector<std::string> ValuesHolding(std::string_view needle) {
    std::vector<std::string> found;
    for (const auto& [id, p] : directory_->Partitions()) {
      Status s =
          p->Snapshot()->Scan("", "\xff", false, [&](std::string_view k, std::string_view v) {
            if (v.find(needle) != std::string_view::npos)
              found.push_back(id + ":" + std::string(k));
            return true;
          });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return found;
  }

  testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Random> random_;
  std::optional<crypto::Kek> kek_;
  std::unique_ptr<directory::Directory> directory_;
  directory::NewTenant tenant_;
};

TEST_F(KeyRotationTest, PublishesAheadSignsOnTimeAndRetiresOnceItsTokensExpired) {
  auto tokens = Process();
  ASSERT_TRUE(tokens->Start().ok());
  const int64_t t0 = clock_.NowMillis();
  std::string a = tokens->SigningKid();
  ASSERT_FALSE(a.empty());
  EXPECT_EQ(JwksKids(*tokens), std::set<std::string>{a});
  EXPECT_EQ(crypto::UnverifiedKid(Issue(*tokens)), a);

  // Nothing is due until two days before the 30-day period ends.
  clock_.Set(t0 + 28 * kDay - 1);
  ASSERT_TRUE(tokens->Refresh().ok());
  EXPECT_EQ(Stored().size(), 1u);

  // Due: the next key is made and published, and does not sign yet.
  clock_.Set(t0 + 28 * kDay);
  ASSERT_TRUE(tokens->Refresh().ok());
  std::vector<proto::SigningKey> stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  std::string b = stored[1].kid();
  EXPECT_EQ(stored[1].created_ms(), t0 + 28 * kDay);
  EXPECT_EQ(stored[1].signs_from_ms(), t0 + 30 * kDay);
  EXPECT_EQ(stored[1].follows_kid(), a);
  EXPECT_EQ(JwksKids(*tokens), (std::set<std::string>{a, b}));
  EXPECT_EQ(tokens->SigningKid(), a);
  ASSERT_TRUE(tokens->Refresh().ok());  // a second refresh makes nothing more
  EXPECT_EQ(Stored().size(), 2u);

  // The last second of a's period: a signs a token that outlives it.
  clock_.Set(t0 + 30 * kDay - kSecond);
  std::string last_of_a = Issue(*tokens);
  EXPECT_EQ(crypto::UnverifiedKid(last_of_a), a);

  // b signs from its time, with no refresh needed; a stays published.
  clock_.Set(t0 + 30 * kDay);
  EXPECT_EQ(tokens->SigningKid(), b);
  std::string first_of_b = Issue(*tokens);
  EXPECT_EQ(crypto::UnverifiedKid(first_of_b), b);
  EXPECT_TRUE(tokens->Authenticate("Bearer " + first_of_b).ok());
  EXPECT_EQ(JwksKids(*tokens), (std::set<std::string>{a, b}));

  // a's last token verifies (first seen now, so the signature is checked) until it expires...
  clock_.Set(t0 + 30 * kDay + 3898 * kSecond);
  EXPECT_EQ(JwksKids(*tokens), (std::set<std::string>{a, b}));
  auto late = tokens->Authenticate("Bearer " + last_of_a);
  EXPECT_TRUE(late.ok()) << late.status().ToString();

  // ...and a is retired once the token lifetime and the clock skew have passed since b took over:
  // gone from JWKS, and a token it signs now (a leaked old key, say) is refused.
  clock_.Set(t0 + 30 * kDay + (3600 + 300) * kSecond);
  EXPECT_EQ(JwksKids(*tokens), std::set<std::string>{b});
  crypto::SigningKey old = PrivateKey(stored[0]);
  json::object claims =
      json::parse(*Base64UrlDecode(first_of_b.substr(
                      first_of_b.find('.') + 1, first_of_b.rfind('.') - first_of_b.find('.') - 1)))
          .as_object();
  claims["iat"] = claims["nbf"] = clock_.NowSeconds();
  claims["exp"] = clock_.NowSeconds() + 600;
  auto forged = tokens->Authenticate("Bearer " + *crypto::SignJwt(old, claims));
  ASSERT_FALSE(forged.ok());
  EXPECT_NE(forged.status().message().find("unknown key"), std::string::npos)
      << forged.status().message();

  // The next period: c is due 28 days after b started signing.
  clock_.Set(t0 + 58 * kDay);
  ASSERT_TRUE(tokens->Refresh().ok());
  stored = Stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[2].follows_kid(), b);
  EXPECT_EQ(stored[2].signs_from_ms(), t0 + 60 * kDay);
  EXPECT_EQ(JwksKids(*tokens), (std::set<std::string>{b, stored[2].kid()}));
}

TEST_F(KeyRotationTest, AfterLongDowntimeTheNewKeyIsPublishedBeforeItSigns) {
  auto tokens = Process();
  ASSERT_TRUE(tokens->Start().ok());
  const int64_t t0 = clock_.NowMillis();
  std::string a = tokens->SigningKid();
  clock_.Set(t0 + 100 * kDay);
  ASSERT_TRUE(tokens->Refresh().ok());
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[1].signs_from_ms(), t0 + 102 * kDay);
  EXPECT_EQ(tokens->SigningKid(), a);  // not b: no relying party has seen b yet
  clock_.Set(t0 + 102 * kDay);
  EXPECT_EQ(tokens->SigningKid(), stored[1].kid());
}

TEST_F(KeyRotationTest, OtherProcessesPickUpANewKeyWithoutARestart) {
  auto maker = Process();
  ObservedDirectory seen(directory_.get());
  auto other = Process(&seen);
  ASSERT_TRUE(maker->Start().ok());
  ASSERT_TRUE(other->Start().ok());
  EXPECT_EQ(Stored().size(), 1u);  // the second process found the first key and made none
  const int64_t t0 = clock_.NowMillis();

  clock_.Set(t0 + 28 * kDay);
  seen.refuse_writes = Status(Code::kUnavailable, "not the primary");  // only `maker` writes
  ASSERT_TRUE(maker->Refresh().ok());
  std::string b = Stored().back().kid();
  EXPECT_EQ(JwksKids(*other).count(b), 0u);  // not loaded yet

  // A token of the new key reaches the other process before its periodic refresh: the unknown
  // kid reloads the keys, and the token is accepted.
  clock_.Set(t0 + 30 * kDay);
  std::string token = Issue(*maker);
  ASSERT_EQ(crypto::UnverifiedKid(token), b);
  int reads = seen.key_reads.load();
  auto ctx = other->Authenticate("Bearer " + token);
  EXPECT_TRUE(ctx.ok()) << ctx.status().ToString();
  EXPECT_EQ(seen.key_reads.load(), reads + 1);
  EXPECT_EQ(other->SigningKid(), b);
  EXPECT_TRUE(JwksKids(*other).count(b));

  // Tokens of keys nobody has reload at most once per key_miss_reload_seconds.
  auto stranger = crypto::SigningKey::GenerateRsa2048();
  std::string forged = "Bearer " + *crypto::SignJwt(*stranger, {{"sub", "x"}});
  clock_.Advance(10 * kSecond);
  reads = seen.key_reads.load();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(other->Authenticate(forged).ok());
  EXPECT_EQ(seen.key_reads.load(), reads + 1);
  clock_.Advance(other->options().key_miss_reload_seconds * kSecond - 1);
  EXPECT_FALSE(other->Authenticate(forged).ok());
  EXPECT_EQ(seen.key_reads.load(), reads + 1);
  clock_.Advance(1);
  EXPECT_FALSE(other->Authenticate(forged).ok());
  EXPECT_EQ(seen.key_reads.load(), reads + 2);

  // A periodic refresh, without any token, loads what another process made, too.
  clock_.Set(t0 + 58 * kDay);
  ASSERT_TRUE(maker->Refresh().ok());
  std::string c = Stored().back().kid();
  EXPECT_EQ(JwksKids(*other).count(c), 0u);
  ASSERT_TRUE(other->Refresh().ok());  // loads c, so that no key is due here
  EXPECT_TRUE(JwksKids(*other).count(c));
  EXPECT_EQ(JwksKids(*other), JwksKids(*maker));
}

TEST_F(KeyRotationTest, OfTwoProcessesMakingTheNextKeyAtOnceOneSucceeds) {
  ObservedDirectory seen_1(directory_.get()), seen_2(directory_.get());
  auto p1 = Process(&seen_1);
  auto p2 = Process(&seen_2);
  ASSERT_TRUE(p1->Start().ok());
  ASSERT_TRUE(p2->Start().ok());
  const int64_t t0 = clock_.NowMillis();
  clock_.Set(t0 + 28 * kDay);
  // Both build their key on the same state before either writes.
  std::barrier<> writers(2);
  seen_1.writers = seen_2.writers = &writers;
  Status s1, s2;
  std::thread t1([&] { s1 = p1->Refresh(); });
  std::thread t2([&] { s2 = p2->Refresh(); });
  t1.join();
  t2.join();
  EXPECT_TRUE(s1.ok()) << s1.ToString();
  EXPECT_TRUE(s2.ok()) << s2.ToString();
  EXPECT_EQ(Stored().size(), 2u);
  EXPECT_EQ(JwksKids(*p1), JwksKids(*p2));
  EXPECT_EQ(JwksKids(*p1).size(), 2u);
}

TEST_F(KeyRotationTest, ANodeThatCannotWriteWaitsForTheKeyAnotherMakes) {
  ObservedDirectory seen(directory_.get());
  seen.refuse_writes = Status(Code::kUnavailable, "not the primary");
  auto node = Process(&seen);
  Status s = node->Start();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();  // no key at all: cannot serve
  EXPECT_FALSE(node->CheckHealth().ok());
  auto primary = Process();
  ASSERT_TRUE(primary->Start().ok());
  ASSERT_TRUE(node->Start().ok());
  EXPECT_EQ(node->SigningKid(), primary->SigningKid());
}

TEST_F(KeyRotationTest, KeysAreStoredSealedAndNoPemReachesTheStoreOrItsFiles) {
  auto tokens = Process();
  ASSERT_TRUE(tokens->Start().ok());
  const int64_t t0 = clock_.NowMillis();
  clock_.Set(t0 + 28 * kDay);
  ASSERT_TRUE(tokens->Refresh().ok());
  clock_.Set(t0 + 58 * kDay);
  ASSERT_TRUE(tokens->Refresh().ok());
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 3u);
  for (const auto& k : stored) {
    EXPECT_EQ(k.private_pem(), "");
    EXPECT_EQ(crypto::SealedKekId(k.sealed_private_key()), kek_->IdHex());
    EXPECT_EQ(PrivateKey(k).kid(), k.kid());
  }
  EXPECT_EQ(ValuesHolding("PRIVATE KEY"), std::vector<std::string>{});
  tokens.reset();
  directory_.reset();  // closed: what is on disk is all there is
  EXPECT_EQ(FilesHolding("PRIVATE KEY"), std::vector<std::string>{});
}

// The control for the test above: the same scans find a key written in clear.
TEST_F(KeyRotationTest, TheScansFindAKeyStoredInClear) {
  AddLegacyKey(clock_.NowMillis());
  EXPECT_FALSE(ValuesHolding("PRIVATE KEY").empty());
  directory_.reset();
  EXPECT_FALSE(FilesHolding("PRIVATE KEY").empty());
}

TEST_F(KeyRotationTest, APlaintextKeyOfAnEarlierVersionKeepsSigningAndIsSealed) {
  std::string legacy = AddLegacyKey(clock_.NowMillis() - 10 * kDay);
  auto tokens = Process();
  ASSERT_TRUE(tokens->Start().ok());
  EXPECT_EQ(tokens->SigningKid(), legacy);
  EXPECT_TRUE(tokens->Authenticate("Bearer " + Issue(*tokens)).ok());
  auto stored = Stored();
  ASSERT_EQ(stored.size(), 1u);  // not due for 18 more days
  EXPECT_EQ(stored[0].private_pem(), "");
  EXPECT_EQ(PrivateKey(stored[0]).kid(), legacy);
  // Sealed in the state; the op that stored it in clear is still in the log.
  EXPECT_EQ(ValuesHolding("PRIVATE KEY").size(), 1u);
  EXPECT_EQ(ValuesHolding("PRIVATE KEY")[0].substr(0, 8), "global:L");
  // A restart opens the sealed record.
  auto again = Process();
  ASSERT_TRUE(again->Start().ok());
  EXPECT_EQ(again->SigningKid(), legacy);
}

TEST_F(KeyRotationTest, AnotherKekStopsTheStartAndNamesBothKeks) {
  ASSERT_TRUE(Process()->Start().ok());
  crypto::Kek other = crypto::Kek::Generate(*random_);
  auto tokens = Process(nullptr, other);
  Status s = tokens->Start();
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find(kek_->IdHex()), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(other.IdHex()), std::string::npos) << s.message();
  EXPECT_FALSE(tokens->CheckHealth().ok());
  EXPECT_EQ(Stored().size(), 1u);  // and it made no key of its own
}

TEST_F(KeyRotationTest, ASealedKeyMovedToAnotherRecordDoesNotOpen) {
  auto tokens = Process();
  ASSERT_TRUE(tokens->Start().ok());
  proto::SigningKey first = Stored()[0];
  // A record whose sealed key is the first record's: the kid it claims is not what was sealed.
  auto key = crypto::SigningKey::GenerateRsa2048();
  proto::SigningKey swapped;
  swapped.set_kid(key->kid());
  swapped.set_created_ms(clock_.NowMillis());
  swapped.set_signs_from_ms(clock_.NowMillis() + kDay);
  swapped.set_sealed_private_key(first.sealed_private_key());
  swapped.set_follows_kid(first.kid());
  ASSERT_TRUE(directory_->AddSigningKey(swapped).ok());
  Status s = Process()->Start();
  EXPECT_EQ(s.code(), Code::kUnauthenticated) << s.ToString();
  EXPECT_NE(s.message().find(key->kid()), std::string::npos) << s.message();
  // The running process keeps the keys it had.
  EXPECT_FALSE(tokens->Refresh().ok());
  EXPECT_EQ(tokens->SigningKid(), first.kid());
  EXPECT_TRUE(tokens->Authenticate("Bearer " + Issue(*tokens)).ok());
}

}  // namespace
}  // namespace meridian::auth
