#include "directory/directory.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>

#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/testing/fixture.h"
#include "store/testing/fault_env.h"
#include "store/keys.h"

namespace meridian::directory {
namespace {
namespace json = boost::json;
using DirectoryTest = testing::DirectoryFixture;

TEST_F(DirectoryTest, NewTenantIsPlacedInItsRegionAndRoutable) {
  EXPECT_EQ(tenant_.tenant.region, "emea");
  EXPECT_TRUE(StartsWith(tenant_.tenant.partition, "emea-"));
  auto by_id = d_->ResolveTenant(tenant_.tenant.id);
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->partition, tenant_.tenant.partition);
  auto by_domain = d_->ResolveTenant(tenant_.tenant.domains[0]);
  ASSERT_TRUE(by_domain.ok());
  EXPECT_EQ(by_domain->id, tenant_.tenant.id);
  auto roles = d_->RolesOf(*admin_, tenant_.sp_id);
  ASSERT_TRUE(roles.ok());
  EXPECT_EQ(*roles, std::set<std::string>{std::string(authz::kGlobalAdministrator)});
  auto client = d_->AuthenticateClient(testing::ContextForTest::TokenService(tenant_.tenant.id),
                                       tenant_.app_id, tenant_.client_secret);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_FALSE(d_->AuthenticateClient(testing::ContextForTest::TokenService(tenant_.tenant.id),
                                      tenant_.app_id, tenant_.client_secret + "x").ok());
  EXPECT_EQ(d_->CreateTenant("X", "ZZ").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(d_->CreateTenant("X", "CN").status().code(), Code::kInvalidArgument)
      << "China is a sovereign cloud, not part of the global deployment";
  auto jp = d_->CreateTenant("Contoso", "jp");
  ASSERT_TRUE(jp.ok());
  EXPECT_EQ(jp->tenant.region, "jp");
  EXPECT_NE(jp->tenant.domains[0], tenant_.tenant.domains[0]) << "initial domains are unique";
}

TEST_F(DirectoryTest, TenantsListsEveryActiveTenantWithItsRoutingButNoPendingOne) {
  auto jp = d_->CreateTenant("Northwind", "JP");
  ASSERT_TRUE(jp.ok());
  fault_point_ = "create-tenant:reserved";  // a creation stopped after its pending record
  Reopen();
  ASSERT_FALSE(d_->CreateTenant("Pending", "US").ok());
  auto tenants = d_->Tenants();
  ASSERT_TRUE(tenants.ok()) << tenants.status().ToString();
  std::map<std::string, TenantInfo> by_id;
  for (const auto& t : *tenants) by_id[t.id] = t;
  ASSERT_EQ(by_id.size(), 2u) << "the pending tenant is not listed";
  EXPECT_EQ(by_id.at(tenant_.tenant.id).region, "emea");
  EXPECT_EQ(by_id.at(tenant_.tenant.id).partition, tenant_.tenant.partition);
  EXPECT_EQ(by_id.at(jp->tenant.id).region, "jp");
  EXPECT_EQ(by_id.at(jp->tenant.id).domains, jp->tenant.domains);
  fault_point_.clear();
}

TEST_F(DirectoryTest, CreateGetUpdateDeleteUser) {
  std::string id = MakeUser("adele", "Adele Vance");
  auto got = d_->Get(*admin_, Users(), id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->data.at("userType").as_string(), "Member");
  EXPECT_FALSE(got->data.contains("passwordProfile")) << "passwords are never stored in data";
  EXPECT_TRUE(StartsWith(got->secret.at("passwordHash").as_string(), "$pbkdf2-sha256$"));
  auto by_upn = d_->Lookup(*admin_, Users(), "ADELE@" + tenant_.tenant.domains[0]);
  ASSERT_TRUE(by_upn.ok());
  EXPECT_EQ(by_upn->id, id);

  auto stale = got->ETag();
  auto upd = d_->Update(*admin_, Users(), id, {{"jobTitle", "Engineer"}}, stale);
  ASSERT_TRUE(upd.ok()) << upd.status().ToString();
  EXPECT_EQ(upd->object.data.at("jobTitle").as_string(), "Engineer");
  EXPECT_EQ(d_->Update(*admin_, Users(), id, {{"jobTitle", "X"}}, stale).status().code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(d_->Delete(*admin_, Users(), id, stale).status().code(), Code::kFailedPrecondition);
  ASSERT_TRUE(d_->Delete(*admin_, Users(), id, std::nullopt).ok());
  EXPECT_EQ(d_->Get(*admin_, Users(), id).status().code(), Code::kNotFound);
  // The UPN is free again.
  MakeUser("adele", "Adele Again");
}

TEST_F(DirectoryTest, BadWritesChangeNothing) {
  MakeUser("adele", "Adele Vance");
  uint64_t before = d_->PartitionLsns().back().second;
  auto lsns = d_->PartitionLsns();
  auto expect_bad = [&](json::object body, Code code) {
    auto r = d_->Create(*admin_, Users(), body);
    EXPECT_EQ(r.status().code(), code) << json::serialize(body) << " " << r.status().ToString();
  };
  expect_bad(NewUser("adele", "Duplicate"), Code::kAlreadyExists);
  auto upper = NewUser("ADELE", "Duplicate in other case");
  expect_bad(upper, Code::kAlreadyExists);
  auto unknown = NewUser("x1", "X");
  unknown["favouriteColour"] = "blue";
  expect_bad(unknown, Code::kInvalidArgument);
  auto ro = NewUser("x2", "X");
  ro["createdDateTime"] = "2020-01-01T00:00:00Z";
  expect_bad(ro, Code::kInvalidArgument);
  auto type = NewUser("x3", "X");
  type["accountEnabled"] = "yes";
  expect_bad(type, Code::kInvalidArgument);
  auto domain = NewUser("x4", "X");
  domain["userPrincipalName"] = "x4@not-ours.example";
  expect_bad(domain, Code::kInvalidArgument);
  auto weak = NewUser("x5", "X");
  weak["passwordProfile"] = {{"password", "password"}};
  expect_bad(weak, Code::kInvalidArgument);
  auto missing = NewUser("x6", "X");
  missing.erase("mailNickname");
  expect_bad(missing, Code::kInvalidArgument);
  EXPECT_EQ(d_->PartitionLsns(), lsns) << "a refused write must not log an op";
  (void)before;
}

TEST_F(DirectoryTest, AnotherTenantsContextSeesNothing) {
  std::string id = MakeUser("adele", "Adele Vance");
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  auto them = testing::ContextForTest::User(other->tenant.id, other->admin_id);
  EXPECT_EQ(d_->Get(them, Users(), id).status().code(), Code::kNotFound);
  EXPECT_EQ(d_->Update(them, Users(), id, {{"jobTitle", "pwned"}}, std::nullopt).status().code(),
            Code::kNotFound);
  EXPECT_EQ(d_->Delete(them, Users(), id, std::nullopt).status().code(), Code::kNotFound);
  EXPECT_EQ(d_->GetDirectoryObject(them, id).status().code(), Code::kNotFound);
  ListQuery q;
  auto page = d_->List(them, Users(), q);
  ASSERT_TRUE(page.ok());
  for (const auto& u : page->items) EXPECT_NE(u.id, id);
  // A UPN of the first tenant's domain cannot be taken in the other tenant.
  auto body = NewUser("mallory", "Mallory");
  EXPECT_EQ(d_->Create(them, Users(), body).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(d_->AddLink(them, "members", Groups(), id, id).status().code(), Code::kNotFound);
  EXPECT_FALSE(d_->AuthenticateClient(testing::ContextForTest::TokenService(other->tenant.id),
                                      tenant_.app_id, tenant_.client_secret).ok());
}

TEST_F(DirectoryTest, ListsFromIndexesWithPaging) {
  for (int i = 0; i < 30; ++i) {
    MakeUser("u" + std::to_string(i), (i % 2 ? "Odd " : "Even ") + std::to_string(100 + i));
  }
  ListQuery q;
  q.has_filter = true;
  q.filter = [](const json::object& o) {
    return StartsWith(AsciiLower(std::string_view(o.at("displayName").as_string())), "odd");
  };
  q.branches = {{"displayName", IndexRange::Kind::kPrefix, "odd", ""}};
  q.top = 4;
  q.fingerprint = "f";
  std::vector<std::string> all;
  int pages = 0;
  for (;;) {
    auto page = d_->List(*admin_, Users(), q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (auto& n : Names(*page)) all.push_back(n);
    if (page->next_skiptoken.empty()) break;
    q.skiptoken = page->next_skiptoken;
  }
  EXPECT_EQ(all.size(), 15u);
  EXPECT_EQ(pages, 4);
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  q.skiptoken = "garbage";
  EXPECT_EQ(d_->List(*admin_, Users(), q).status().code(), Code::kInvalidArgument);

  // Descending order on an index.
  ListQuery desc;
  desc.orderby = "displayName";
  desc.descending = true;
  desc.top = 3;
  auto page = d_->List(*admin_, Users(), desc);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Names(*page), (std::vector<std::string>{"Odd 129", "Odd 127", "Odd 125"}));

  // An unindexed filter on a tenant above the scan limit is refused.
  ListQuery scan;
  scan.has_filter = true;
  scan.filter = [](const json::object&) { return true; };
  EXPECT_EQ(d_->List(*admin_, Users(), scan).status().code(), Code::kUnsupported);
}

TEST_F(DirectoryTest, OrBranchesDoNotRepeatObjects) {
  MakeUser("ann", "Ann");
  MakeUser("bob", "Bob");
  ListQuery q;
  q.has_filter = true;
  q.branches = {{"displayName", IndexRange::Kind::kEq, "ann", ""},
                {"mailNickname", IndexRange::Kind::kPrefix, "", ""}};
  q.fingerprint = "f";
  auto page = d_->List(*admin_, Users(), q);
  ASSERT_TRUE(page.ok());
  // Ann (from the first branch), then every user with any mailNickname except Ann again.
  int anns = 0;
  for (auto& n : Names(*page)) anns += n == "Ann";
  EXPECT_EQ(anns, 1);
}

TEST_F(DirectoryTest, NestedGroupsAnswerTransitiveMemberOf) {
  std::string u = MakeUser("adele", "Adele");
  std::string g1 = MakeGroup("g1"), g2 = MakeGroup("g2"), g3 = MakeGroup("g3");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), g1, u).ok());
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), g2, g1).ok());
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), g3, g2).ok());
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), g1, g3).ok()) << "cycles are allowed";
  EXPECT_EQ(d_->AddLink(*admin_, "members", Groups(), g1, u).status().code(),
            Code::kAlreadyExists);
  auto direct = d_->ListLinks(*admin_, "members", LinkDirection::kIncoming, u, false, 100, "");
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->items.size(), 1u);
  auto all = d_->ListLinks(*admin_, "members", LinkDirection::kIncoming, u, true, 100, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->items.size(), 3u);
  auto paged = d_->ListLinks(*admin_, "members", LinkDirection::kIncoming, u, true, 2, "");
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->items.size(), 2u);
  auto rest = d_->ListLinks(*admin_, "members", LinkDirection::kIncoming, u, true, 2,
                            paged->next_skiptoken);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->items.size(), 1u);
  EXPECT_TRUE(rest->next_skiptoken.empty());
  // Deleting the middle group removes its edges.
  ASSERT_TRUE(d_->Delete(*admin_, Groups(), g1, std::nullopt).ok());
  auto after = d_->ListLinks(*admin_, "members", LinkDirection::kIncoming, u, true, 100, "");
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->items.empty());
}

TEST_F(DirectoryTest, RolesReachMembersOnlyOfRoleAssignableGroups) {
  std::string u = MakeUser("adele", "Adele");
  std::string plain = MakeGroup("plain");
  const TypeSchema& assignments = *FindType("roleAssignment");
  json::object ra{{"principalId", plain}, {"roleDefinitionId", authz::kUserAdministrator}};
  EXPECT_EQ(d_->Create(*admin_, assignments, ra).status().code(), Code::kInvalidArgument);
  auto admins = d_->Create(*admin_, Groups(),
                           {{"displayName", "admins"}, {"mailEnabled", false},
                            {"mailNickname", "admins"}, {"securityEnabled", true},
                            {"isAssignableToRole", true}});
  ASSERT_TRUE(admins.ok());
  ra["principalId"] = admins->object.id;
  ASSERT_TRUE(d_->Create(*admin_, assignments, ra).ok());
  EXPECT_TRUE(d_->RolesOf(*admin_, u)->empty());
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), admins->object.id, u).ok());
  EXPECT_EQ(*d_->RolesOf(*admin_, u), std::set<std::string>{std::string(authz::kUserAdministrator)});
}

TEST_F(DirectoryTest, WritesAreAuditedAndSurviveReopen) {
  std::string id = MakeUser("adele", "Adele Vance");
  auto audit = d_->ListAudit(*admin_, 1, "");
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->items.size(), 1u);
  EXPECT_EQ(audit->items[0].data.at("activityDisplayName").as_string(), "Add user");
  auto older = d_->ListAudit(*admin_, 10, audit->next_skiptoken);
  ASSERT_TRUE(older.ok());
  EXPECT_EQ(older->items.size(), 1u);
  EXPECT_EQ(older->items[0].data.at("activityDisplayName").as_string(), "Create company");
  Reopen();
  EXPECT_TRUE(d_->Get(*admin_, Users(), id).ok());
  EXPECT_EQ(*d_->Count(*admin_, Users()), 2);
}

TEST_F(DirectoryTest, AddressesAreUniqueAcrossUsersAndGroups) {
  std::string domain = tenant_.tenant.domains[0];
  // A Microsoft 365 group may not take an administrator's address as its mail.
  auto m365 = d_->Create(*admin_, Groups(),
                         {{"displayName", "Admins"}, {"mailEnabled", true}, {"mailNickname", "admin"},
                          {"securityEnabled", false}, {"groupTypes", json::array{"Unified"}}});
  EXPECT_EQ(m365.status().code(), Code::kAlreadyExists) << m365.status().ToString();
  std::string u = MakeUser("adele", "Adele");
  EXPECT_EQ(d_->Update(*admin_, Users(), u, {{"mail", "ADMIN@" + domain}}, std::nullopt)
                .status()
                .code(),
            Code::kAlreadyExists);
  ASSERT_TRUE(d_->Update(*admin_, Users(), u, {{"mail", "adele.v@" + domain}}, std::nullopt).ok());
  auto other = d_->Create(*admin_, Users(), NewUser("adele.v", "Other Adele"));
  EXPECT_EQ(other.status().code(), Code::kAlreadyExists);
  // Freed when the holder lets go.
  ASSERT_TRUE(d_->Delete(*admin_, Users(), u, std::nullopt).ok());
  EXPECT_TRUE(d_->Create(*admin_, Users(), NewUser("adele.v", "Other Adele")).ok());
}

// A skip token with a valid MAC (minted here with the deployment's key, as only a bug in the
// server could) still cannot move a scan outside its query's ranges.
TEST_F(DirectoryTest, ASkipTokenIsConfinedToItsQuerysRanges) {
  for (int i = 0; i < 5; ++i) MakeUser("u" + std::to_string(i), "User " + std::to_string(i));
  d_.reset();
  std::string key;
  {
    auto global = GlobalDirectory::Open(dir_ + "/partitions/global", {}, &clock_, random_.get());
    ASSERT_TRUE(global.ok());
    auto k = (*global)->ServiceSecret("skiptoken-mac", 32);
    ASSERT_TRUE(k.ok());
    key = *k;
  }
  Reopen();
  ListQuery q;
  q.has_filter = true;  // served by the index range below alone: no filter re-checks candidates
  q.branches.push_back(IndexRange{"displayName", IndexRange::Kind::kEq, "user 1", ""});
  q.fingerprint = "displayName eq 'User 1'";
  auto page = d_->List(*admin_, Users(), q);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 1u);
  // Resume from the start of the displayName index: before the query's range.
  std::string payload = json::serialize(json::object{
      {"b", 0}, {"k", Base64UrlEncode("x/user/displayName/")}});
  std::string mac = crypto::HmacSha256(key, tenant_.tenant.id + "\n" + q.fingerprint + "\n" +
                                                payload).substr(0, 16);
  q.skiptoken = Base64UrlEncode(payload) + "." + Base64UrlEncode(mac);
  auto resumed = d_->List(*admin_, Users(), q);
  EXPECT_EQ(resumed.status().code(), Code::kInvalidArgument)
      << (resumed.ok() ? std::to_string(resumed->items.size()) + " items" : "");
}

TEST_F(DirectoryTest, RelationshipAndAuditSkipTokensAreMacdToo) {
  std::string g = MakeGroup("team");
  std::vector<std::string> members;
  for (int i = 0; i < 3; ++i) {
    members.push_back(MakeUser("m" + std::to_string(i), "M" + std::to_string(i)));
    ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), g, members.back()).ok());
  }
  auto first = d_->ListLinks(*admin_, "members", LinkDirection::kOutgoing, g, false, 2, "");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->items.size(), 2u);
  auto rest = d_->ListLinks(*admin_, "members", LinkDirection::kOutgoing, g, false, 2,
                            first->next_skiptoken);
  ASSERT_TRUE(rest.ok()) << rest.status().ToString();
  EXPECT_EQ(rest->items.size(), 1u);
  // A bare id, or the token of another listing, is refused.
  EXPECT_FALSE(
      d_->ListLinks(*admin_, "members", LinkDirection::kOutgoing, g, false, 2, members[0]).ok());
  EXPECT_FALSE(d_->ListLinks(*admin_, "members", LinkDirection::kOutgoing, g, true, 2,
                             first->next_skiptoken)
                   .ok());
  auto audit = d_->ListAudit(*admin_, 1, "");
  ASSERT_TRUE(audit.ok());
  EXPECT_TRUE(d_->ListAudit(*admin_, 1, audit->next_skiptoken).ok());
  auto other = d_->CreateTenant("Other", "DE");
  ASSERT_TRUE(other.ok());
  auto them = testing::ContextForTest::User(other->tenant.id, other->admin_id);
  EXPECT_FALSE(d_->ListAudit(them, 1, audit->next_skiptoken).ok());
}

// Readiness follows the store: a partition whose disk failed a write is not ready until it is
// reopened, and the failed write was not acknowledged.
TEST_F(DirectoryTest, AFailedDiskMakesTheDirectoryUnready) {
  store::FaultEnv env;
  env_ = &env;
  Reopen();
  ASSERT_TRUE(d_->CheckHealth().ok());
  env.SetWriteFault(store::WriteFault::kIoError);
  auto refused = d_->Create(*admin_, Users(), NewUser("late", "Late"));
  EXPECT_FALSE(refused.ok());
  Status health = d_->CheckHealth();
  EXPECT_EQ(health.code(), Code::kUnavailable) << health.ToString();
  env.Heal();
  env_ = nullptr;
  Reopen();
  EXPECT_TRUE(d_->CheckHealth().ok());
  EXPECT_EQ(d_->Lookup(*admin_, Users(), "late@" + tenant_.tenant.domains[0]).status().code(),
            Code::kNotFound);
}

TEST_F(DirectoryTest, AnInterruptedTenantCreationIsUndoneAtStart) {
  for (std::string point : {"create-tenant:reserved", "create-tenant:created"}) {
    SCOPED_TRACE(point);
    int64_t before = *d_->TenantCount();
    fault_point_ = point;
    Reopen();
    auto failed = d_->CreateTenant("Fabrikam", "FR");
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(d_->ResolveTenant("fabrikam.meridian.test").status().code(), Code::kNotFound)
        << "a pending tenant does not route";
    fault_point_.clear();
    Reopen();  // the crash: start-up finds the pending tenant and undoes it
    EXPECT_EQ(*d_->TenantCount(), before);
    EXPECT_EQ(d_->ResolveTenant("fabrikam.meridian.test").status().code(), Code::kNotFound);
    // Its domain is free again, and a complete creation is routable.
    auto again = d_->CreateTenant("Fabrikam", "FR");
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    EXPECT_EQ(again->tenant.domains[0], "fabrikam.meridian.test");
    auto ctx = testing::ContextForTest::User(again->tenant.id, again->admin_id);
    EXPECT_EQ(*d_->Count(ctx, Users()), 1);
    ASSERT_TRUE(d_->Delete(ctx, *FindType("application"), again->app_object_id, std::nullopt).ok());
    // Make the next round start from a clean name.
    fault_point_.clear();
    TearDown();
    SetUp();
  }
}

TEST_F(DirectoryTest, SkipTokensCannotBeForgedOrCarriedToAnotherTenantOrQuery) {
  for (int i = 0; i < 5; ++i) MakeUser("u" + std::to_string(i), "User " + std::to_string(i));
  ListQuery q;
  q.top = 2;
  q.fingerprint = "all-users";
  auto first = d_->List(*admin_, Users(), q);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_skiptoken.empty());
  q.skiptoken = first->next_skiptoken;
  ASSERT_TRUE(d_->List(*admin_, Users(), q).ok());

  auto other = d_->CreateTenant("Other", "DE");
  ASSERT_TRUE(other.ok());
  auto them = testing::ContextForTest::User(other->tenant.id, other->admin_id);
  EXPECT_EQ(d_->List(them, Users(), q).status().code(), Code::kInvalidArgument);
  ListQuery elsewhere = q;
  elsewhere.fingerprint = "another-query";
  EXPECT_EQ(d_->List(*admin_, Users(), elsewhere).status().code(), Code::kInvalidArgument);
  // Any change to the token, payload or MAC, is refused.
  std::string t = first->next_skiptoken;
  for (size_t i = 0; i < t.size(); i += 3) {
    ListQuery forged = q;
    forged.skiptoken = t;
    forged.skiptoken[i] = forged.skiptoken[i] == 'A' ? 'B' : 'A';
    if (forged.skiptoken == t) continue;
    EXPECT_FALSE(d_->List(*admin_, Users(), forged).ok()) << forged.skiptoken;
  }
  // The payload names a tenant-relative position: no tenant id appears in it.
  auto payload = Base64UrlDecode(t.substr(0, t.find('.')));
  ASSERT_TRUE(payload.has_value());
  auto decoded = boost::json::parse(*payload).as_object();
  auto key = Base64UrlDecode(decoded.at("k").as_string());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->find(tenant_.tenant.id), std::string::npos);
}

}  // namespace
}  // namespace meridian::directory
