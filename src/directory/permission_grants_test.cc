// Delegated permission grants: made only by those who may grant roles, of a client on a
// resource, tenant-wide or for one user, one per (client, resource, principal); the scopes a user
// has granted are the tenant-wide ones and the user's own.
#include "directory/permission_grants.h"

#include <gtest/gtest.h>

#include "authz/authz.h"
#include "directory/first_party.h"
#include "directory/testing/fixture.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;

class PermissionGrantsTest : public testing::DirectoryFixture {
 protected:
  const TypeSchema& Grants() { return *FindType("oauth2PermissionGrant"); }
  // A new application's service principal.
  std::string Sp(const std::string& name) {
    auto app = d_->Create(*admin_, *FindType("application"), {{"displayName", name}});
    EXPECT_TRUE(app.ok()) << app.status().ToString();
    auto sp = d_->Create(*admin_, *FindType("servicePrincipal"),
                         {{"appId", app->object.data.at("appId")}});
    EXPECT_TRUE(sp.ok()) << sp.status().ToString();
    return sp->object.id;
  }
  Result<WriteResult> Grant(const SecurityContext& ctx, json::object body) {
    return d_->Create(ctx, Grants(), body);
  }
  std::set<std::string> Scopes(const std::string& client, const std::string& resource,
                               const std::string& user) {
    store::Partition* p = d_->Partitions().at(tenant_.tenant.partition);
    auto snapshot = p->Snapshot();
    store::TenantView view(*snapshot, tenant_.tenant.id);
    auto s = GrantedScopes(view, store::TenantKeys(tenant_.tenant.id), client, resource, user);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return *s;
  }
};

TEST_F(PermissionGrantsTest, TenantWideAndPerUserGrantsMakeTheUsersScopes) {
  std::string client = Sp("Client"), api = Sp("API");
  std::string adele = MakeUser("adele", "Adele"), megan = MakeUser("megan", "Megan");
  auto all = Grant(*admin_, {{"clientId", client},
                             {"consentType", "AllPrincipals"},
                             {"resourceId", api},
                             {"scope", " User.Read   Mail.Read "}});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->object.data.at("scope").as_string(), "Mail.Read User.Read");
  EXPECT_TRUE(all->object.data.at("principalId").is_null());
  auto own = Grant(*admin_, {{"clientId", client},
                             {"consentType", "Principal"},
                             {"principalId", adele},
                             {"resourceId", api},
                             {"scope", "Files.Read"}});
  ASSERT_TRUE(own.ok()) << own.status().ToString();
  EXPECT_EQ(Scopes(client, api, adele),
            (std::set<std::string>{"Files.Read", "Mail.Read", "User.Read"}));
  EXPECT_EQ(Scopes(client, api, megan), (std::set<std::string>{"Mail.Read", "User.Read"}));
  EXPECT_TRUE(Scopes(api, client, adele).empty()) << "a grant is of one client on one resource";
  // One grant per client, resource and principal: a second is refused; its scope is updated.
  auto again = Grant(*admin_, {{"clientId", client},
                               {"consentType", "AllPrincipals"},
                               {"resourceId", api},
                               {"scope", "Files.Read"}});
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  ASSERT_TRUE(
      d_->Update(*admin_, Grants(), all->object.id, {{"scope", "User.Read"}}, std::nullopt).ok());
  EXPECT_EQ(Scopes(client, api, megan), (std::set<std::string>{"User.Read"}));
}

TEST_F(PermissionGrantsTest, MalformedGrantsAreRefused) {
  std::string client = Sp("Client"), api = Sp("API");
  std::string user = MakeUser("lidia", "Lidia");
  EXPECT_EQ(
      Grant(
          *admin_,
          {{"clientId", client}, {"consentType", "Principal"}, {"resourceId", api}, {"scope", "x"}})
          .status()
          .code(),
      Code::kInvalidArgument)
      << "Principal without principalId";
  EXPECT_EQ(Grant(*admin_, {{"clientId", client},
                            {"consentType", "AllPrincipals"},
                            {"principalId", user},
                            {"resourceId", api}})
                .status()
                .code(),
            Code::kInvalidArgument)
      << "AllPrincipals with a principalId";
  EXPECT_EQ(
      Grant(*admin_, {{"clientId", user}, {"consentType", "AllPrincipals"}, {"resourceId", api}})
          .status()
          .code(),
      Code::kInvalidArgument)
      << "a user as the client";
  EXPECT_EQ(Grant(*admin_, {{"clientId", client}, {"consentType", "Everyone"}, {"resourceId", api}})
                .status()
                .code(),
            Code::kInvalidArgument);
}

TEST_F(PermissionGrantsTest, OnlyThoseWhoMayGrantRolesMayGrantPermissions) {
  std::string client = Sp("Client"), api = Sp("API");
  auto make_admin = [&](const std::string& alias, std::string_view role) {
    std::string id = MakeUser(alias, alias);
    EXPECT_TRUE(d_->Create(*admin_, *FindType("roleAssignment"),
                           {{"principalId", id}, {"roleDefinitionId", std::string(role)}})
                    .ok());
    return testing::ContextForTest::User(tenant_.tenant.id, id);
  };
  json::object body{{"clientId", client},
                    {"consentType", "AllPrincipals"},
                    {"resourceId", api},
                    {"scope", "Directory.ReadWrite.All"}};
  auto app_admin = make_admin("appadmin", authz::kApplicationAdministrator);
  EXPECT_EQ(Grant(app_admin, body).status().code(), Code::kPermissionDenied);
  auto pra = make_admin("pra", authz::kPrivilegedRoleAdministrator);
  EXPECT_TRUE(Grant(pra, body).ok());
}

}  // namespace
}  // namespace meridian::directory

namespace meridian::directory {
namespace {

// A user's own consent (the sign-in pages'): made, then extended, one grant per user; Graph's
// service principal is made when an older tenant has none.
TEST_F(PermissionGrantsTest, AUsersConsentIsTheirOwnGrantExtendedInPlace) {
  std::string client = Sp("Consented"), user = MakeUser("adele", "Adele Vance");
  auto ctx = testing::ContextForTest::TokenService(tenant_.tenant.id);
  auto consent = [&](std::set<std::string> scopes) {
    std::optional<Status> out;
    d_->ConsentForUser(ctx, user, client, kGraphAppId, scopes,
                       [&](Result<WriteResult> w) { out = w.status(); });
    return *out;
  };
  ASSERT_TRUE(consent({"User.Read"}).ok());
  Status again = consent({"User.ReadWrite"});
  ASSERT_TRUE(again.ok()) << again.ToString();
  EXPECT_EQ(*d_->GrantedScopes(ctx, client, kGraphAppId, user),
            (std::set<std::string>{"User.Read", "User.ReadWrite"}));
  auto grants = d_->List(*admin_, Grants(), {});
  ASSERT_TRUE(grants.ok());
  EXPECT_EQ(grants->items.size(), 1u);
}

}  // namespace
}  // namespace meridian::directory
