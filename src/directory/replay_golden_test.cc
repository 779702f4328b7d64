// Golden bytes of the directory's state machines. A small, realistic log (a tenant created with
// its first objects, then users, a group, an application, a link, an update and deletes) is
// written into partition A with Partition::Write, A's log is replayed into an empty partition B
// with ApplyLogged, and B's whole contents (log entries included) must equal A's and hash to the
// digest checked in below. Every value in the ops is fixed (ids, times, hashes), so the digest
// changes only when what an apply writes changes: a key's layout, a record's JSON, an index
// encoding, an audit record, the op's wire format.
//
// When this test fails after a deliberate change of the stored format, replicas and existing
// data directories are affected: decide how they migrate, then update the golden digest to the
// value the failure prints, in the same commit, and say why in its message. Never update it to
// make an unexplained failure go away.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "common/encoding.h"
#include "common/testing/temp_dir.h"
#include "crypto/sha.h"
#include "directory/state_machine.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {
namespace {
namespace json = boost::json;

// Golden digests: SHA-256 (hex) of every key/value pair of the partition in key order, each pair
// as <key length:8 bytes big-endian> key <value length:8 bytes big-endian> value.
constexpr char kTenantGolden[] = "3b7bb583e23b6d3f94e25c34146ac330a83a4e38efbdf0234849225f0c0ec942";
constexpr char kGlobalGolden[] = "5812be8cd1310890d012417a35e4013e65de30f6e098e97e9e995bd275d92216";
// The global log of a version before sealed signing keys, which must still replay to its bytes.
constexpr char kGlobalBeforeSealingGolden[] =
    "0b75daf7885681b50513e12624d994bc33d8339a5da1da1a771d1c7f06e750db";

constexpr char kTenant[] = "0b5e7d1c-2a3f-4c6e-9d8b-7f1a2c3e4d5f";
constexpr char kAdmin[] = "11111111-1111-4111-8111-111111111111";
constexpr char kAlice[] = "22222222-2222-4222-8222-222222222222";
constexpr char kGroup[] = "33333333-3333-4333-8333-333333333333";
constexpr char kApp[] = "44444444-4444-4444-8444-444444444444";
constexpr char kAppId[] = "55555555-5555-4555-8555-555555555555";
constexpr char kSp[] = "66666666-6666-4666-8666-666666666666";
constexpr char kRoleAssignment[] = "77777777-7777-4777-8777-777777777777";
constexpr char kGlobalAdminRole[] = "62e90394-69f5-4237-9190-012177145e10";
constexpr int64_t kT0 = 1700000000000;  // 2023-11-14T22:13:20Z
// Stand-ins for PBKDF2 and client-secret hashes: the state machine stores them as given.
constexpr char kAdminHash[] = "pbkdf2-sha256$1000$c2FsdHNhbHRzYWx0$golden-admin-hash";
constexpr char kAliceHash[] = "pbkdf2-sha256$1000$YWxpY2VzYWx0$golden-alice-hash";

using testing::TempDir;

std::string Record(json::object data, json::object secret = {}) {
  return json::serialize(json::object{{"d", std::move(data)}, {"s", std::move(secret)}});
}

proto::PutObject Object(std::string type, std::string id, std::string record, bool create,
                        std::string activity) {
  proto::PutObject p;
  p.set_type(std::move(type));
  p.set_id(std::move(id));
  p.set_record_json(std::move(record));
  p.set_create(create);
  p.set_activity(std::move(activity));
  return p;
}

json::object User(const char* id, const char* upn, const char* name, const char* nick,
                  const char* created) {
  return {{"id", id},
          {"userPrincipalName", upn},
          {"displayName", name},
          {"mailNickname", nick},
          {"accountEnabled", true},
          {"userType", "Member"},
          {"createdDateTime", created}};
}

// Each op of the tenant log, without its LSN: the partition assigns it.
std::vector<proto::Op> TenantOps() {
  std::vector<proto::Op> ops;
  auto next = [&](int64_t at, const char* request) -> proto::Op& {
    proto::Op& op = ops.emplace_back();
    op.set_tenant_id(kTenant);
    op.set_time_ms(kT0 + at);
    op.set_request_id(request);
    proto::Actor* a = op.mutable_actor();
    if (ops.size() == 1) {
      a->set_kind("operator");
    } else {
      a->set_kind("user");
      a->set_id(kAdmin);
      a->set_display_name("Administrator");
      a->set_app_id(kAppId);
    }
    return op;
  };

  // 1. The tenant, with its domain, a role, the administrator, the bootstrap application, its
  //    service principal and the administrator's role assignment.
  {
    proto::Op& op = next(0, "req-create-tenant");
    auto* ct = op.mutable_create_tenant();
    ct->set_organization_json(json::serialize(
        json::object{{"id", kTenant},
                     {"displayName", "Golden Fabrikam"},
                     {"countryLetterCode", "DE"},
                     {"createdDateTime", "2023-11-14T22:13:20Z"},
                     {"tenantType", "AAD"},
                     {"verifiedDomains", json::array{{{"name", "goldenfabrikam.meridian.test"},
                                                      {"isDefault", true},
                                                      {"isInitial", true},
                                                      {"type", "Managed"}}}},
                     {"dataLocation", {{"region", "EU"}, {"partition", "EU-1"}}}}));
    *ct->add_objects() = Object("domain", "goldenfabrikam.meridian.test",
                                Record({{"id", "goldenfabrikam.meridian.test"},
                                        {"isVerified", true},
                                        {"isDefault", true},
                                        {"isInitial", true},
                                        {"authenticationType", "Managed"},
                                        {"supportedServices", json::array{"Email"}}}),
                                true, "");
    *ct->add_objects() = Object("roleDefinition", kGlobalAdminRole,
                                Record({{"id", kGlobalAdminRole},
                                        {"displayName", "Global Administrator"},
                                        {"description", "Can manage everything."},
                                        {"isBuiltIn", true},
                                        {"isEnabled", true},
                                        {"templateId", kGlobalAdminRole},
                                        {"version", "1"},
                                        {"rolePermissions", json::array{}}}),
                                true, "");
    *ct->add_objects() =
        Object("user", kAdmin,
               Record(User(kAdmin, "admin@goldenfabrikam.meridian.test", "Administrator", "admin",
                           "2023-11-14T22:13:20Z"),
                      {{"passwordHash", kAdminHash}, {"forceChangePasswordNextSignIn", true}}),
               true, "");
    *ct->add_objects() = Object("application", kApp,
                                Record({{"id", kApp},
                                        {"appId", kAppId},
                                        {"displayName", "Meridian bootstrap"},
                                        {"signInAudience", "AzureADMyOrg"},
                                        {"createdDateTime", "2023-11-14T22:13:20Z"},
                                        {"identifierUris", json::array{}}},
                                       {{"clientSecrets", {{"k1", "golden-secret-hash"}}}}),
                                true, "");
    *ct->add_objects() = Object("servicePrincipal", kSp,
                                Record({{"id", kSp},
                                        {"appId", kAppId},
                                        {"displayName", "Meridian bootstrap"},
                                        {"accountEnabled", true},
                                        {"appOwnerOrganizationId", kTenant},
                                        {"servicePrincipalType", "Application"},
                                        {"servicePrincipalNames", json::array{kAppId}}}),
                                true, "");
    *ct->add_objects() = Object("roleAssignment", kRoleAssignment,
                                Record({{"id", kRoleAssignment},
                                        {"principalId", kAdmin},
                                        {"roleDefinitionId", kGlobalAdminRole},
                                        {"directoryScopeId", "/"}}),
                                true, "");
  }
  // 2. A user.
  *next(60'000, "req-add-alice").mutable_put_object() =
      Object("user", kAlice,
             Record(User(kAlice, "alice@goldenfabrikam.meridian.test", "Alice Example", "alice",
                         "2023-11-14T22:14:20Z"),
                    {{"passwordHash", kAliceHash}}),
             true, "Add user");
  // 3. A group.
  *next(120'000, "req-add-group").mutable_put_object() =
      Object("group", kGroup,
             Record({{"id", kGroup},
                     {"displayName", "Engineering"},
                     {"mailNickname", "engineering"},
                     {"mailEnabled", false},
                     {"securityEnabled", true},
                     {"groupTypes", json::array{}},
                     {"createdDateTime", "2023-11-14T22:15:20Z"}}),
             true, "Add group");
  // 4. Alice joins the group.
  {
    proto::Link* l = next(180'000, "req-add-member").mutable_add_link();
    l->set_relation("members");
    l->set_source_type("group");
    l->set_source_id(kGroup);
    l->set_target_type("user");
    l->set_target_id(kAlice);
    l->set_activity("Add member to group");
  }
  // 5. Alice's record changes: a new display name and a job title (index entries move).
  {
    json::object alice = User(kAlice, "alice@goldenfabrikam.meridian.test", "Alice Golden", "alice",
                              "2023-11-14T22:14:20Z");
    alice["jobTitle"] = "Engineer";
    *next(240'000, "req-update-alice").mutable_put_object() =
        Object("user", kAlice, Record(std::move(alice), {{"passwordHash", kAliceHash}}), false,
               "Update user");
  }
  // 6. The group goes, and its membership with it.
  {
    proto::DeleteObject* d = next(300'000, "req-delete-group").mutable_delete_object();
    d->set_type("group");
    d->set_id(kGroup);
    d->set_activity("Delete group");
  }
  // 7. The application goes, and its service principal with it.
  {
    proto::DeleteObject* d = next(360'000, "req-delete-app").mutable_delete_object();
    d->set_type("application");
    d->set_id(kApp);
    d->set_activity("Delete application");
  }
  return ops;
}

// The global log as versions before sealed signing keys wrote it: a tenant and a plaintext key.
std::vector<proto::Op> GlobalOpsBeforeSealing() {
  std::vector<proto::Op> ops;
  proto::Op& reg = ops.emplace_back();
  reg.set_time_ms(kT0);
  auto* r = reg.mutable_register_tenant();
  r->set_tenant_id(kTenant);
  r->set_region("EU");
  r->set_partition("EU-1");
  r->add_domains("GoldenFabrikam.meridian.test");
  proto::Op& key = ops.emplace_back();
  key.set_time_ms(kT0 + 1);
  auto* k = key.mutable_signing_key();
  k->set_kid("golden-kid-1");
  k->set_private_pem("not a key: a fixed placeholder for the golden test");
  k->set_created_ms(kT0 + 1);
  return ops;
}

// Then what this version writes: the plaintext key sealed in place (an upgrade), and the next
// key, sealed, published before it signs and made on the condition that the first is the newest.
std::vector<proto::Op> GlobalOps() {
  std::vector<proto::Op> ops = GlobalOpsBeforeSealing();
  proto::Op& seal = ops.emplace_back();
  seal.set_time_ms(kT0 + 2);
  auto* s = seal.mutable_signing_key();
  s->set_kid("golden-kid-1");
  s->set_seals_stored(true);
  s->set_sealed_private_key("sealed placeholder 1");
  proto::Op& next = ops.emplace_back();
  next.set_time_ms(kT0 + 3);
  auto* n = next.mutable_signing_key();
  n->set_kid("golden-kid-2");
  n->set_created_ms(kT0 + 3);
  n->set_signs_from_ms(kT0 + 172'800'000);
  n->set_sealed_private_key("sealed placeholder 2");
  n->set_follows_kid("golden-kid-1");
  return ops;
}

std::map<std::string, std::string> Contents(const store::Partition& p) {
  std::map<std::string, std::string> out;
  Status s = p.Snapshot()->Scan("", "\xff", false, [&](std::string_view k, std::string_view v) {
    out.emplace(k, v);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

// The contents, one pair a line, for a failure message: what changed is then visible in the log.
std::string Listing(const std::map<std::string, std::string>& kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    out += store::PrintableKey(k) + " = " + store::PrintableKey(v) + "\n";
  }
  return out;
}

std::string Digest(const std::map<std::string, std::string>& kv) {
  std::string all;
  for (const auto& [k, v] : kv) {
    PutBigEndian64(&all, k.size());
    all += k;
    PutBigEndian64(&all, v.size());
    all += v;
  }
  return HexEncode(crypto::Sha256(all));
}

// Writes `ops` into a new partition A, replays A's log into a new partition B, checks that both
// hold the same bytes, and returns A's contents.
std::map<std::string, std::string> WriteAndReplay(store::StateMachine* machine,
                                                  const std::vector<proto::Op>& ops) {
  TempDir a_dir, b_dir;
  auto a = std::move(store::Partition::Open("a", a_dir.path(), machine)).value();
  auto b = std::move(store::Partition::Open("b", b_dir.path(), machine)).value();
  for (size_t i = 0; i < ops.size(); ++i) {
    auto lsn = a->Write([&](const store::ReadView&, proto::Op* op) {
      *op = ops[i];
      return Status::Ok();
    });
    EXPECT_TRUE(lsn.ok()) << "op " << i + 1 << ": " << lsn.status().ToString();
    if (!lsn.ok()) return {};
    EXPECT_EQ(*lsn, i + 1);
  }
  uint64_t replayed = 0;
  Status read = a->ReadLog(1, [&](const proto::Op& op) {
    Status s = b->ApplyLogged(op);
    EXPECT_TRUE(s.ok()) << "replaying op " << op.lsn() << ": " << s.ToString();
    ++replayed;
    return s.ok();
  });
  EXPECT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(replayed, ops.size());
  EXPECT_EQ(b->last_lsn(), a->last_lsn());
  auto a_kv = Contents(*a), b_kv = Contents(*b);
  EXPECT_EQ(a_kv.size(), b_kv.size());
  for (const auto& [k, v] : a_kv) {
    auto it = b_kv.find(k);
    if (it == b_kv.end()) {
      ADD_FAILURE() << "the replica lacks " << store::PrintableKey(k);
    } else if (it->second != v) {
      ADD_FAILURE() << "the replica differs at " << store::PrintableKey(k) << ":\n  primary " << v
                    << "\n  replica " << it->second;
    }
  }
  for (const auto& [k, v] : b_kv) {
    if (!a_kv.count(k)) ADD_FAILURE() << "the replica has extra " << store::PrintableKey(k);
  }
  return a_kv;
}

TEST(ReplayGolden, TenantLogReplaysToTheGoldenBytes) {
  TenantMachine machine;
  auto kv = WriteAndReplay(&machine, TenantOps());
  ASSERT_FALSE(HasFailure());
  // The log did what it says: the deletes cascaded, the update moved alice's index entries.
  store::TenantKeys keys(kTenant);
  EXPECT_TRUE(kv.count(keys.Object("user", kAlice)));
  EXPECT_FALSE(kv.count(keys.Object("group", kGroup)));
  EXPECT_FALSE(kv.count(keys.Link("members", kGroup, kAlice)));
  EXPECT_FALSE(kv.count(keys.ReverseLink("members", kAlice, kGroup)));
  EXPECT_FALSE(kv.count(keys.Object("servicePrincipal", kSp)));
  EXPECT_TRUE(kv.count(keys.Index("user", "displayName", "alice golden", kAlice)));
  EXPECT_FALSE(kv.count(keys.Index("user", "displayName", "alice example", kAlice)));
  EXPECT_TRUE(kv.count(keys.Audit(7)));
  EXPECT_EQ(Digest(kv), kTenantGolden)
      << "the stored bytes of the tenant log changed; see the file comment before updating "
         "kTenantGolden. Contents:\n"
      << Listing(kv);
}

TEST(ReplayGolden, AGlobalLogOfAnEarlierVersionReplaysToItsGoldenBytes) {
  GlobalMachine machine;
  auto kv = WriteAndReplay(&machine, GlobalOpsBeforeSealing());
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(Digest(kv), kGlobalBeforeSealingGolden)
      << "an old global log no longer replays to the bytes it made; existing data directories "
         "and replicas would diverge. Contents:\n"
      << Listing(kv);
}

TEST(ReplayGolden, GlobalLogReplaysToTheGoldenBytes) {
  GlobalMachine machine;
  auto kv = WriteAndReplay(&machine, GlobalOps());
  ASSERT_FALSE(HasFailure());
  EXPECT_EQ(kv.at(GlobalDomainKey("goldenfabrikam.meridian.test")), kTenant);
  proto::SigningKey sealed;
  ASSERT_TRUE(sealed.ParseFromString(kv.at(GlobalSigningKeyPrefix() + "golden-kid-1")));
  EXPECT_EQ(sealed.private_pem(), "");
  EXPECT_EQ(sealed.sealed_private_key(), "sealed placeholder 1");
  EXPECT_EQ(Digest(kv), kGlobalGolden)
      << "the stored bytes of the global log changed; see the file comment before updating "
         "kGlobalGolden. Contents:\n"
      << Listing(kv);
}

}  // namespace
}  // namespace meridian::directory
