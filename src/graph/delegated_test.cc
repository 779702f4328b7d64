// Delegated permissions: every route pattern has an area, and a token's scopes allow what Graph
// says they allow, no more.
#include "graph/delegated.h"

#include <gtest/gtest.h>

namespace meridian::graph {
namespace {

TEST(Delegated, RoutesHaveAreas) {
  EXPECT_EQ(*AreaOf("/v1.0/me"), Area::kMe);
  EXPECT_EQ(*AreaOf("/v1.0/users/{id}/memberOf"), Area::kUsers);
  EXPECT_EQ(*AreaOf("/v1.0/users/{id}/authentication/requirements"),
            Area::kAuthenticationMethods);
  EXPECT_EQ(*AreaOf("/v1.0/servicePrincipals/{id}/owners"), Area::kApplications);
  EXPECT_EQ(*AreaOf("/v1.0/roleManagement/directory/roleAssignments"), Area::kRoles);
  EXPECT_EQ(*AreaOf("/v1.0/auditLogs/signIns"), Area::kAuditLogs);
  // A prefix of a word is not the word: an unknown collection has no area.
  EXPECT_FALSE(AreaOf("/v1.0/usersettings").ok());
  EXPECT_FALSE(AreaOf("/v1.0/meetings").ok());
  EXPECT_FALSE(AreaOf("/beta/users").ok());
}

TEST(Delegated, ScopesAllowWhatGraphSaysAndNoMore) {
  const std::set<std::string> user_read{"openid", "User.Read"};
  EXPECT_TRUE(AllowDelegated(Area::kMe, false, false, user_read).ok());
  EXPECT_TRUE(AllowDelegated(Area::kUsers, false, true, user_read).ok()) << "one's own user";
  EXPECT_FALSE(AllowDelegated(Area::kUsers, false, false, user_read).ok()) << "another user";
  EXPECT_FALSE(AllowDelegated(Area::kUsers, true, true, user_read).ok()) << "not a write";
  EXPECT_FALSE(AllowDelegated(Area::kGroups, true, false, user_read).ok());
  EXPECT_FALSE(AllowDelegated(Area::kRoles, true, false, {"Directory.ReadWrite.All"}).ok());
  EXPECT_TRUE(AllowDelegated(Area::kGroups, true, false, {"Group.ReadWrite.All"}).ok());
  EXPECT_FALSE(AllowDelegated(Area::kGroups, true, false, {"Group.Read.All"}).ok());
  EXPECT_TRUE(AllowDelegated(Area::kRoles, true, false, {"Directory.AccessAsUser.All"}).ok());
  EXPECT_FALSE(AllowDelegated(Area::kAuditLogs, true, false, {"AuditLog.Read.All"}).ok());
  Status denied = AllowDelegated(Area::kApplications, true, false, user_read);
  EXPECT_EQ(denied.code(), Code::kPermissionDenied);
  EXPECT_NE(denied.message().find("Application.ReadWrite.All"), std::string::npos);
  EXPECT_FALSE(AllowDelegated(Area::kUsers, false, false, {}).ok()) << "no scopes, nothing";
  // Any directory object is not one's profile: Directory.Read.All, as in Graph.
  EXPECT_EQ(*AreaOf("/v1.0/directoryObjects/{id}"), Area::kDirectoryObjects);
  EXPECT_EQ(*AreaOf("/v1.0/domains"), Area::kDirectoryObjects);
  EXPECT_FALSE(AllowDelegated(Area::kDirectoryObjects, false, false, user_read).ok());
  EXPECT_TRUE(AllowDelegated(Area::kOrganization, false, false, user_read).ok());
}

}  // namespace
}  // namespace meridian::graph
