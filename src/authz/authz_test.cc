#include "authz/authz.h"

#include <gtest/gtest.h>

namespace meridian::authz {
namespace {

Caller User(std::set<std::string> roles) { return Caller{Caller::Kind::kUser, std::move(roles)}; }
Caller App(std::set<std::string> roles) {
  return Caller{Caller::Kind::kServicePrincipal, std::move(roles)};
}
Target Of(std::string type, std::set<std::string> roles = {}, bool assignable = false) {
  return Target{std::move(type), std::move(roles), assignable};
}
const std::string kGA(kGlobalAdministrator), kUA(kUserAdministrator), kGrA(kGroupsAdministrator),
    kAA(kApplicationAdministrator), kPRA(kPrivilegedRoleAdministrator), kGR(kGlobalReader),
    kDR(kDirectoryReaders);

bool Allowed(const Caller& c, Action a, const Target& t) { return Decide(c, a, t).ok(); }

TEST(AuthzTest, AnApplicationNeedsADirectoryRoleToRead) {
  EXPECT_FALSE(Allowed(App({}), Action::kRead, Of("user")));
  EXPECT_FALSE(Allowed(App({"00000000-0000-0000-0000-000000000001"}), Action::kRead, Of("user")));
  EXPECT_TRUE(Allowed(App({kDR}), Action::kRead, Of("user")));
  EXPECT_TRUE(Allowed(App({kGR}), Action::kRead, Of("application")));
  EXPECT_TRUE(Allowed(User({}), Action::kRead, Of("user")));  // member default
  Caller guest = User({});
  guest.guest = true;
  EXPECT_FALSE(Allowed(guest, Action::kRead, Of("user")));
  guest.roles.insert(kDR);
  EXPECT_TRUE(Allowed(guest, Action::kRead, Of("user")));
  Status s = Decide(App({}), Action::kRead, Of("user"));
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.graph_code(), "Authorization_RequestDenied");
}

TEST(AuthzTest, AuditLogsNeedGlobalAdministratorOrGlobalReader) {
  EXPECT_FALSE(Allowed(User({}), Action::kReadAudit, Of("directoryAudit")));
  EXPECT_FALSE(Allowed(User({kUA}), Action::kReadAudit, Of("directoryAudit")));
  EXPECT_TRUE(Allowed(User({kGR}), Action::kReadAudit, Of("directoryAudit")));
  EXPECT_TRUE(Allowed(App({kGA}), Action::kReadAudit, Of("directoryAudit")));
}

TEST(AuthzTest, WritersByType) {
  EXPECT_FALSE(Allowed(User({}), Action::kCreate, Of("user")));
  EXPECT_FALSE(Allowed(User({kGR, kDR}), Action::kCreate, Of("user")));
  EXPECT_TRUE(Allowed(User({kUA}), Action::kCreate, Of("user")));
  EXPECT_FALSE(Allowed(User({kGrA}), Action::kCreate, Of("user")));
  EXPECT_TRUE(Allowed(User({kGrA}), Action::kCreate, Of("group")));
  EXPECT_FALSE(Allowed(User({kGrA}), Action::kCreate, Of("application")));
  EXPECT_TRUE(Allowed(User({kAA}), Action::kCreate, Of("application")));
  EXPECT_TRUE(Allowed(User({kAA}), Action::kUpdate, Of("servicePrincipal")));
  EXPECT_FALSE(Allowed(User({kAA}), Action::kCreate, Of("roleAssignment")));
  EXPECT_FALSE(Allowed(User({kUA}), Action::kCreate, Of("roleAssignment")));
  EXPECT_TRUE(Allowed(User({kPRA}), Action::kCreate, Of("roleAssignment")));
  EXPECT_TRUE(Allowed(User({kPRA}), Action::kDelete, Of("roleDefinition")));
  EXPECT_FALSE(Allowed(User({kPRA}), Action::kCreate, Of("user")));
  EXPECT_FALSE(Allowed(User({kUA}), Action::kUpdate, Of("domain")));
  EXPECT_TRUE(Allowed(User({kGA}), Action::kUpdate, Of("domain")));
}

TEST(AuthzTest, UserAdministratorNeverActsOnAWiderAdministrator) {
  for (Action a : {Action::kResetPassword, Action::kUpdate, Action::kDelete}) {
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {kGA}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {kPRA}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {kAA}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {kGR}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {"custom-role-id"}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("user", {kDR, kGA}))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kUA}), a, Of("user", {}))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kUA}), a, Of("user", {kDR, kUA}))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kGA}), a, Of("user", {kGA}))) << ActionName(a);
  }
}

TEST(AuthzTest, MembersOfRoleAssignableGroupsAreProtectedBeforeTheGroupHoldsARole) {
  Target member = Of("user");
  member.in_role_assignable_group = true;
  EXPECT_FALSE(Allowed(User({kUA}), Action::kResetPassword, member));
  EXPECT_FALSE(Allowed(User({kPRA}), Action::kResetPassword, member)) << "not a user writer";
  EXPECT_TRUE(Allowed(User({kGA}), Action::kResetPassword, member));
}

TEST(AuthzTest, ApplicationAdministratorNeverActsOnAnAppHoldingARole) {
  for (Action a :
       {Action::kManageCredentials, Action::kUpdate, Action::kDelete, Action::kManageOwners}) {
    EXPECT_FALSE(Allowed(User({kAA}), a, Of("application", {kGA}))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kAA}), a, Of("application", {kDR}))) << ActionName(a);
    EXPECT_FALSE(Allowed(App({kAA}), a, Of("servicePrincipal", {kUA}))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kAA}), a, Of("application", {}))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kGA}), a, Of("application", {kGA}))) << ActionName(a);
  }
  // A Privileged Role Administrator assigns roles but does not manage applications.
  EXPECT_FALSE(Allowed(User({kPRA}), Action::kManageCredentials, Of("application", {kGA})));
}

TEST(AuthzTest, OnlyRoleAdministratorsChangeRoleAssignableGroups) {
  for (Action a : {Action::kCreate, Action::kUpdate, Action::kDelete, Action::kManageMembers,
                   Action::kManageOwners}) {
    EXPECT_FALSE(Allowed(User({kGrA}), a, Of("group", {}, true))) << ActionName(a);
    EXPECT_FALSE(Allowed(User({kUA}), a, Of("group", {}, true))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kPRA}), a, Of("group", {kGA}, true))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kGA}), a, Of("group", {kGA}, true))) << ActionName(a);
    EXPECT_TRUE(Allowed(User({kGrA}), a, Of("group"))) << ActionName(a);
  }
}

TEST(AuthzTest, TheTokenServiceNeverWritesAndTheOperatorMay) {
  Caller ts{Caller::Kind::kTokenService, {}};
  EXPECT_TRUE(Allowed(ts, Action::kRead, Of("application")));
  for (Action a : {Action::kCreate, Action::kUpdate, Action::kDelete, Action::kManageCredentials}) {
    EXPECT_FALSE(Allowed(ts, a, Of("application"))) << ActionName(a);
  }
  Caller op{Caller::Kind::kOperator, {}};
  EXPECT_TRUE(Allowed(op, Action::kCreate, Of("roleAssignment")));
}

}  // namespace
}  // namespace meridian::authz
