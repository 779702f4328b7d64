// The directory's authorization, end to end through its write paths: the escalations found by
// an adversary, who may act on whom, the last Global Administrator, and what is audited. Each
// test fails when the check it names is removed.
#include <gtest/gtest.h>

#include "common/encoding.h"
#include "directory/objects.h"
#include "directory/testing/fixture.h"

namespace meridian::directory {
namespace {
namespace json = boost::json;
using testing::ContextForTest;

class DirectoryAuthzTest : public testing::DirectoryFixture {
 protected:
  const TypeSchema& Apps() { return *FindType("application"); }
  const TypeSchema& Sps() { return *FindType("servicePrincipal"); }
  const TypeSchema& Assignments() { return *FindType("roleAssignment"); }

  std::string Assign(const std::string& principal, std::string_view role) {
    auto r = d_->Create(*admin_, Assignments(),
                        {{"principalId", principal}, {"roleDefinitionId", std::string(role)}});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->object.id : "";
  }
  // A user holding `role`, and a context acting as it.
  SecurityContext UserWith(const std::string& alias, std::string_view role) {
    std::string id = MakeUser(alias, alias);
    Assign(id, role);
    return ContextForTest::User(tenant_.tenant.id, id);
  }
  std::string RoleGroup(const std::string& name) {
    auto g = d_->Create(*admin_, Groups(),
                        {{"displayName", name},
                         {"mailEnabled", false},
                         {"mailNickname", name},
                         {"securityEnabled", true},
                         {"isAssignableToRole", true}});
    EXPECT_TRUE(g.ok()) << g.status().ToString();
    return g.ok() ? g->object.id : "";
  }
  json::object LastAudit() {
    auto page = d_->ListAudit(*admin_, 1, "");
    EXPECT_TRUE(page.ok());
    return page.ok() && !page->items.empty() ? page->items[0].data : json::object{};
  }
  static void ExpectDenied(const Status& s) {
    EXPECT_EQ(s.code(), Code::kPermissionDenied) << s.ToString();
  }
};

// The adversary's path: Groups + Application Administrator put a Global Administrator's service
// principal in many groups so that role resolution (which stopped after 64) saw no role, then
// added a secret to its application.
TEST_F(DirectoryAuthzTest, ManyGroupsDoNotHideAGlobalAdministratorsRoles) {
  std::string attacker = MakeUser("mallory", "Mallory");
  Assign(attacker, authz::kGroupsAdministrator);
  Assign(attacker, authz::kApplicationAdministrator);
  auto as_attacker = ContextForTest::User(tenant_.tenant.id, attacker);
  for (int i = 0; i < 80; ++i) {
    auto g = d_->Create(as_attacker, Groups(),
                        {{"displayName", "g" + std::to_string(i)},
                         {"mailEnabled", false},
                         {"mailNickname", "g" + std::to_string(i)},
                         {"securityEnabled", true}});
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    ASSERT_TRUE(d_->AddLink(as_attacker, "members", Groups(), g->object.id, tenant_.sp_id).ok());
  }
  auto roles = d_->RolesOf(*admin_, tenant_.sp_id);
  ASSERT_TRUE(roles.ok());
  EXPECT_TRUE(roles->count(std::string(authz::kGlobalAdministrator)));
  ExpectDenied(d_->AddPassword(as_attacker, tenant_.app_object_id, {}).status());
  ExpectDenied(d_->Update(as_attacker, Apps(), tenant_.app_object_id,
                          {{"web", {{"redirectUris", json::array{"https://evil.example/cb"}}}}},
                          std::nullopt)
                   .status());
  ExpectDenied(
      d_->Update(as_attacker, Sps(), tenant_.sp_id, {{"accountEnabled", false}}, std::nullopt)
          .status());
  ExpectDenied(d_->Delete(as_attacker, Sps(), tenant_.sp_id, std::nullopt).status());
  ExpectDenied(d_->Delete(as_attacker, Apps(), tenant_.app_object_id, std::nullopt).status());
  // An application without roles is fair game for an Application Administrator.
  auto plain = d_->Create(as_attacker, Apps(), {{"displayName", "plain"}});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(d_->AddPassword(as_attacker, plain->object.id, {}).ok());
}

TEST_F(DirectoryAuthzTest, RolesThroughARoleAssignableGroupProtectTheMember) {
  std::string ga_group = RoleGroup("ga-holders");
  Assign(ga_group, authz::kGlobalAdministrator);
  std::string member = MakeUser("grace", "Grace");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), ga_group, member).ok());
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  ExpectDenied(d_->Update(ua, Users(), member, {{"displayName", "x"}}, std::nullopt).status());
  ASSERT_TRUE(d_->RemoveLink(*admin_, "members", Groups(), ga_group, member).ok());
  EXPECT_TRUE(d_->Update(ua, Users(), member, {{"displayName", "x"}}, std::nullopt).ok());
  // Role-assignable groups do not nest, so roles never travel further than direct members.
  std::string inner = MakeGroup("inner");
  EXPECT_EQ(d_->AddLink(*admin_, "members", Groups(), ga_group, inner).status().code(),
            Code::kInvalidArgument);
}

TEST_F(DirectoryAuthzTest, UserAdministratorCannotTouchAGlobalAdministrator) {
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  const std::string& ga = tenant_.admin_id;
  json::object reset{{"passwordProfile", {{"password", "N3w!Passw0rd"}}}};
  ExpectDenied(d_->Update(ua, Users(), ga, reset, std::nullopt).status());
  ExpectDenied(d_->Update(ua, Users(), ga, {{"displayName", "pwned"}}, std::nullopt).status());
  ExpectDenied(d_->Update(ua, Users(), ga, {{"accountEnabled", false}}, std::nullopt).status());
  ExpectDenied(d_->Delete(ua, Users(), ga, std::nullopt).status());
  // Nor a Privileged Role Administrator, an Application Administrator or a Global Reader.
  for (std::string_view role : {authz::kPrivilegedRoleAdministrator,
                                authz::kApplicationAdministrator, authz::kGlobalReader}) {
    auto target = UserWith("t" + std::string(role.substr(0, 6)), role);
    ExpectDenied(d_->Update(ua, Users(), target.principal_id(), reset, std::nullopt).status());
  }
  // A plain user, or another User Administrator, it may manage.
  std::string plain = MakeUser("plain", "Plain");
  EXPECT_TRUE(d_->Update(ua, Users(), plain, reset, std::nullopt).ok());
  auto other_ua = UserWith("ua2", authz::kUserAdministrator);
  EXPECT_TRUE(d_->Update(ua, Users(), other_ua.principal_id(), reset, std::nullopt).ok());
  EXPECT_TRUE(d_->Delete(ua, Users(), plain, std::nullopt).ok());
}

// Property names are matched in any case, as Graph does: the decision must see the same body.
TEST_F(DirectoryAuthzTest, DecisionsSeePropertiesSpelledInAnyCase) {
  auto grp = UserWith("gadmin", authz::kGroupsAdministrator);
  ExpectDenied(d_->Create(grp, Groups(),
                          {{"displayName", "sneaky"},
                           {"mailEnabled", false},
                           {"mailNickname", "sneaky"},
                           {"securityEnabled", true},
                           {"IsAssignableToRole", true}})
                   .status());
  // A password set through another spelling is a reset, with a new hash.
  std::string plain = MakeUser("plain", "Plain");
  auto before = d_->Get(*admin_, Users(), plain);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(d_->Update(*admin_, Users(), plain,
                         {{"PasswordProfile", {{"Password", "An0ther!Passw0rd"}}}}, std::nullopt)
                  .ok());
  auto after = d_->Get(*admin_, Users(), plain);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->secret.at("passwordHash"), before->secret.at("passwordHash"));
  EXPECT_EQ(LastAudit()["activityDisplayName"].as_string(), "Reset user password");
}

TEST_F(DirectoryAuthzTest, AMemberOfARoleAssignableGroupIsProtectedBeforeTheGroupHoldsARole) {
  std::string group = RoleGroup("future-admins");
  std::string member = MakeUser("future", "Future");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), group, member).ok());
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  ExpectDenied(d_->Update(ua, Users(), member,
                          {{"passwordProfile", {{"password", "N3w!Passw0rd"}}}}, std::nullopt)
                   .status());
}

TEST_F(DirectoryAuthzTest, LeavingARoleAssignableGroupByItsDeletionEndsTheProtection) {
  std::string group = RoleGroup("short-lived");
  std::string member = MakeUser("former", "Former");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), group, member).ok());
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  ExpectDenied(d_->Update(ua, Users(), member, {{"jobTitle", "x"}}, std::nullopt).status());
  ASSERT_TRUE(d_->Delete(*admin_, Groups(), group, std::nullopt).ok());
  EXPECT_TRUE(d_->Update(ua, Users(), member, {{"jobTitle", "x"}}, std::nullopt).ok());
}

// A caller that may not make the change spends no password hash (~100 ms of CPU) on it: the
// salt, drawn only for a hash, is never drawn.
TEST_F(DirectoryAuthzTest, ARefusedCallerSpendsNoHash) {
  std::string nobody = MakeUser("nobody", "Nobody");
  auto as_nobody = ContextForTest::User(tenant_.tenant.id, nobody);
  json::object body = NewUser("victim", "Victim");
  int64_t before = drawn_bytes_;
  ExpectDenied(d_->Create(as_nobody, Users(), body).status());
  EXPECT_EQ(drawn_bytes_ - before, 32) << "two ids, no salt";
  before = drawn_bytes_;
  ASSERT_TRUE(d_->Create(*admin_, Users(), body).ok());
  EXPECT_EQ(drawn_bytes_ - before, 48) << "two ids and a salt";
}

// What the server adds to a record (here a credential) is bounded too, not only the body.
TEST_F(DirectoryAuthzTest, ServerAddedPropertiesCannotPushARecordPastItsBound) {
  auto app = d_->Create(*admin_, Apps(), {{"displayName", "big"}});
  ASSERT_TRUE(app.ok());
  // Redirect URIs (at most 256 characters each) until the record is within ~100 bytes of the
  // bound: less than the ~180 bytes a password credential adds.
  json::object data = app->object.data;
  json::array web, spa, native;
  for (int i = 0; json::serialize(data).size() < kMaxRecordBytes - 100; ++i) {
    size_t room = kMaxRecordBytes - 100 - json::serialize(data).size();
    std::string uri = "https://app.example/" + std::to_string(i) + "/";
    uri.append(std::min<size_t>(220, room > uri.size() + 3 ? room - uri.size() - 3 : 1), 'x');
    (web.size() < 256 ? web : spa.size() < 256 ? spa : native).push_back(json::string(uri));
    data["web"] = json::object{{"redirectUris", web}};
    data["spa"] = json::object{{"redirectUris", spa}};
    data["publicClient"] = json::object{{"redirectUris", native}};
  }
  ASSERT_LE(json::serialize(data).size(), kMaxRecordBytes);
  auto filled = d_->Update(*admin_, Apps(), app->object.id,
                           {{"web", data["web"]},
                            {"spa", data["spa"]},
                            {"publicClient", data["publicClient"]}},
                           std::nullopt);
  ASSERT_TRUE(filled.ok()) << filled.status().ToString();
  auto added = d_->AddPassword(*admin_, app->object.id, {});
  EXPECT_EQ(added.status().code(), Code::kInvalidArgument) << added.status().ToString();
}

TEST_F(DirectoryAuthzTest, BreakGlassCannotBeBlockedByTakingItsAddress) {
  std::string domain = tenant_.tenant.domains[0];
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  std::string squatter = MakeUser("squatter", "Squatter");
  ASSERT_TRUE(
      d_->Update(ua, Users(), squatter, {{"mail", "break-glass-1@" + domain}}, std::nullopt).ok());
  auto restored = d_->RestoreAdministrator(tenant_.tenant.id);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->user_principal_name, "break-glass-2@" + domain);
}

TEST_F(DirectoryAuthzTest, OnlyRoleAdministratorsChangeRoleAssignableGroups) {
  json::object body{{"displayName", "ra"},
                    {"mailEnabled", false},
                    {"mailNickname", "ra"},
                    {"securityEnabled", true},
                    {"isAssignableToRole", true}};
  for (std::string_view role : {authz::kGroupsAdministrator, authz::kUserAdministrator}) {
    auto who = UserWith("a" + std::string(role.substr(0, 6)), role);
    ExpectDenied(d_->Create(who, Groups(), body).status());
    std::string g = RoleGroup("ra-" + std::string(role.substr(0, 6)));
    ExpectDenied(d_->Update(who, Groups(), g, {{"description", "x"}}, std::nullopt).status());
    ExpectDenied(d_->AddLink(who, "members", Groups(), g, who.principal_id()).status());
    ExpectDenied(d_->AddLink(who, "owners", Groups(), g, who.principal_id()).status());
    ExpectDenied(d_->Delete(who, Groups(), g, std::nullopt).status());
    // An ordinary group it may change.
    std::string plain = MakeGroup("plain-" + std::string(role.substr(0, 6)));
    EXPECT_TRUE(d_->AddLink(who, "members", Groups(), plain, who.principal_id()).ok());
  }
  auto pra = UserWith("pra", authz::kPrivilegedRoleAdministrator);
  EXPECT_TRUE(d_->Create(pra, Groups(), body).ok());
}

TEST_F(DirectoryAuthzTest, AnApplicationWithoutARoleReadsNothing) {
  auto app = d_->Create(*admin_, Apps(), {{"displayName", "reader"}});
  ASSERT_TRUE(app.ok());
  auto sp = d_->Create(*admin_, Sps(), {{"appId", app->object.data.at("appId")}});
  ASSERT_TRUE(sp.ok());
  auto ctx = ContextForTest::App(tenant_.tenant.id, sp->object.id);
  ExpectDenied(d_->AuthorizeRead(ctx, authz::Action::kRead, "user"));
  Assign(sp->object.id, authz::kDirectoryReaders);
  EXPECT_TRUE(d_->AuthorizeRead(ctx, authz::Action::kRead, "user").ok());
  ExpectDenied(d_->AuthorizeRead(ctx, authz::Action::kReadAudit, "directoryAudit"));
  // A member user reads by default, but not the audit log.
  auto user = ContextForTest::User(tenant_.tenant.id, MakeUser("member", "Member"));
  EXPECT_TRUE(d_->AuthorizeRead(user, authz::Action::kRead, "user").ok());
  ExpectDenied(d_->AuthorizeRead(user, authz::Action::kReadAudit, "directoryAudit"));
  // A guest does not.
  std::string guest_id = MakeUser("guest", "Guest");
  ASSERT_TRUE(d_->Update(*admin_, Users(), guest_id, {{"userType", "Guest"}}, std::nullopt).ok());
  ExpectDenied(d_->AuthorizeRead(ContextForTest::User(tenant_.tenant.id, guest_id),
                                 authz::Action::kRead, "user"));
}

TEST_F(DirectoryAuthzTest, TheLastGlobalAdministratorStays) {
  // Two hold it at first: the administrator and the bootstrap application's service principal.
  auto bad = [](const Status& s) { EXPECT_EQ(s.code(), Code::kInvalidArgument) << s.ToString(); };
  ASSERT_TRUE(d_->Delete(*admin_, Apps(), tenant_.app_object_id, std::nullopt).ok());
  const std::string& ga = tenant_.admin_id;
  bad(d_->Update(*admin_, Users(), ga, {{"accountEnabled", false}}, std::nullopt).status());
  bad(d_->Delete(*admin_, Users(), ga, std::nullopt).status());
  auto held = d_->List(*admin_, Assignments(), ListQuery{});
  ASSERT_TRUE(held.ok());
  for (const Object& ra : held->items) {
    bad(d_->Delete(*admin_, Assignments(), ra.id, std::nullopt).status());
  }
  // Held through a role-assignable group, the last member stays too.
  std::string group = RoleGroup("ga-group");
  std::string member = MakeUser("gm", "GM");
  std::string second = MakeUser("second", "Second");
  ASSERT_TRUE(d_->AddLink(*admin_, "members", Groups(), group, member).ok());
  Assign(group, authz::kGlobalAdministrator);
  ASSERT_TRUE(d_->Delete(*admin_, Assignments(), held->items[0].id, std::nullopt).ok());
  auto as_member = ContextForTest::User(tenant_.tenant.id, member);
  bad(d_->RemoveLink(as_member, "members", Groups(), group, member).status());
  bad(d_->Delete(as_member, Groups(), group, std::nullopt).status());
  bad(d_->Update(as_member, Users(), member, {{"accountEnabled", false}}, std::nullopt).status());
  // With a second holder, the first may go.
  ASSERT_TRUE(d_->AddLink(as_member, "members", Groups(), group, second).ok());
  EXPECT_TRUE(d_->RemoveLink(as_member, "members", Groups(), group, member).ok());
}

TEST_F(DirectoryAuthzTest, BreakGlassRestoresAnAdministratorAudited) {
  auto restored = d_->RestoreAdministrator(tenant_.tenant.domains[0]);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  auto roles = d_->RolesOf(*admin_, restored->user_id);
  ASSERT_TRUE(roles.ok());
  EXPECT_TRUE(roles->count(std::string(authz::kGlobalAdministrator)));
  auto page = d_->ListAudit(*admin_, 2, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  std::set<std::string> activities;
  for (const auto& a : page->items) {
    activities.insert(std::string(a.data.at("activityDisplayName").as_string()));
    EXPECT_EQ(a.data.at("initiatedBy").at("app").at("displayName").as_string(),
              "Meridian operator");
  }
  EXPECT_TRUE(activities.count("Restore administrator (break glass)"));
  EXPECT_EQ(d_->RestoreAdministrator("no-such.example").status().code(), Code::kNotFound);
}

TEST_F(DirectoryAuthzTest, RefusalsResetsAndCascadesAreAudited) {
  auto ua = UserWith("uadmin", authz::kUserAdministrator).WithCorrelationId("corr-1");
  ExpectDenied(d_->Delete(ua, Users(), tenant_.admin_id, std::nullopt).status());
  json::object refusal = LastAudit();
  EXPECT_EQ(refusal["result"].as_string(), "failure");
  EXPECT_EQ(refusal["activityDisplayName"].as_string(), "Delete user");
  EXPECT_EQ(refusal["correlationId"].as_string(), "corr-1");
  EXPECT_NE(refusal["resultReason"].as_string(), "");
  EXPECT_EQ(refusal["operationType"].as_string(), "Delete");

  std::string plain = MakeUser("plain", "Plain");
  const std::string password = "N3w!Passw0rd-secret";
  ASSERT_TRUE(
      d_->Update(ua, Users(), plain, {{"passwordProfile", {{"password", password}}}}, std::nullopt)
          .ok());
  json::object reset = LastAudit();
  EXPECT_EQ(reset["activityDisplayName"].as_string(), "Reset user password");
  EXPECT_EQ(reset["result"].as_string(), "success");
  EXPECT_EQ(json::serialize(reset).find(password), std::string::npos);
  EXPECT_EQ(json::serialize(reset).find("passwordHash"), std::string::npos);

  // Deleting an application removes its service principal and that one's role assignments,
  // each with its own record.
  auto app = d_->Create(*admin_, Apps(), {{"displayName", "doomed"}});
  ASSERT_TRUE(app.ok());
  auto sp = d_->Create(*admin_, Sps(), {{"appId", app->object.data.at("appId")}});
  ASSERT_TRUE(sp.ok());
  std::string ra = Assign(sp->object.id, authz::kDirectoryReaders);
  ASSERT_TRUE(d_->Delete(*admin_, Apps(), app->object.id, std::nullopt).ok());
  EXPECT_EQ(d_->Get(*admin_, Sps(), sp->object.id).status().code(), Code::kNotFound);
  EXPECT_EQ(d_->Get(*admin_, Assignments(), ra).status().code(), Code::kNotFound);
  auto page = d_->ListAudit(*admin_, 3, "");
  ASSERT_TRUE(page.ok());
  std::vector<std::string> activities;
  for (const auto& a : page->items) {
    activities.emplace_back(a.data.at("activityDisplayName").as_string());
  }
  EXPECT_EQ(activities,
            (std::vector<std::string>{"Remove member from role", "Remove service principal",
                                      "Delete application"}));
}

TEST_F(DirectoryAuthzTest, TheTokenServiceCannotWrite) {
  auto ts = ContextForTest::TokenService(tenant_.tenant.id);
  ExpectDenied(d_->Create(ts, Groups(),
                          {{"displayName", "x"},
                           {"mailEnabled", false},
                           {"mailNickname", "x"},
                           {"securityEnabled", true}})
                   .status());
  ExpectDenied(d_->AddPassword(ts, tenant_.app_object_id, {}).status());
}

TEST_F(DirectoryAuthzTest, BuiltInRolesAreFixedAndCustomRolesGetTheirOwnTemplate) {
  const TypeSchema& defs = *FindType("roleDefinition");
  std::string ga(authz::kGlobalAdministrator);
  EXPECT_EQ(d_->Update(*admin_, defs, ga, {{"isEnabled", false}}, std::nullopt).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(d_->Delete(*admin_, defs, ga, std::nullopt).status().code(), Code::kInvalidArgument);
  auto custom = d_->Create(
      *admin_, defs,
      {{"displayName", "Helpers"}, {"isEnabled", true}, {"rolePermissions", json::array{}}});
  ASSERT_TRUE(custom.ok()) << custom.status().ToString();
  EXPECT_EQ(custom->object.data.at("templateId").as_string(), custom->object.id);
  EXPECT_EQ(d_->Create(*admin_, defs,
                       {{"displayName", "Sneaky"},
                        {"isEnabled", true},
                        {"rolePermissions", json::array{}},
                        {"templateId", ga}})
                .status()
                .code(),
            Code::kInvalidArgument);
  // Assigned, it cannot be deleted; its holder is out of a User Administrator's reach.
  std::string holder = MakeUser("helper", "Helper");
  std::string ra = Assign(holder, custom->object.id);
  EXPECT_EQ(d_->Delete(*admin_, defs, custom->object.id, std::nullopt).status().code(),
            Code::kInvalidArgument);
  auto ua = UserWith("uadmin", authz::kUserAdministrator);
  ExpectDenied(d_->Delete(ua, Users(), holder, std::nullopt).status());
  // Disabled, it is no longer the holder's to use, but it still protects the holder.
  ASSERT_TRUE(
      d_->Update(*admin_, defs, custom->object.id, {{"isEnabled", false}}, std::nullopt).ok());
  auto roles = d_->RolesOf(*admin_, holder);
  ASSERT_TRUE(roles.ok());
  EXPECT_FALSE(roles->count(custom->object.id));
  ExpectDenied(d_->Delete(ua, Users(), holder, std::nullopt).status());
}

}  // namespace
}  // namespace meridian::directory
