#include "directory/objects.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "common/encoding.h"

namespace meridian::directory {
namespace {
namespace json = boost::json;

const TypeSchema& Type(std::string_view name) { return *FindType(name); }

json::object Parse(std::string_view text) { return json::parse(text).as_object(); }

// ApplyBody of a create body onto an empty object; the stored data in *out.
Status Create(std::string_view type, const json::object& body, json::object* out = nullptr) {
  json::object data;
  Status st = ApplyBody(Type(type), body, true, &data);
  if (out) *out = std::move(data);
  return st;
}

std::string Guid(int i) {
  char buf[40];
  snprintf(buf, sizeof(buf), "00000000-0000-4000-8000-%012d", i);
  return buf;
}

json::object AppRole(int i, std::string value) {
  return {{"id", Guid(i)},
          {"allowedMemberTypes", json::array{"User"}},
          {"description", "Role " + std::to_string(i)},
          {"displayName", "Role " + std::to_string(i)},
          {"isEnabled", true},
          {"value", std::move(value)}};
}

json::object Scope(int i, std::string value) {
  return {{"id", Guid(i)},
          {"adminConsentDescription", "Lets the app act as the user"},
          {"adminConsentDisplayName", "Act as the user"},
          {"isEnabled", true},
          {"type", "User"},
          {"value", std::move(value)}};
}

json::object KeyCredential(int i) {
  return {{"keyId", Guid(i)},
          {"displayName", "CN=client"},
          {"type", "AsymmetricX509Cert"},
          {"usage", "Verify"},
          {"key", Base64Encode(std::string(1200, static_cast<char>('a' + i % 26)))}};
}

#define EXPECT_REFUSED(expr, needle)                                           \
  do {                                                                         \
    Status _st = (expr);                                                       \
    EXPECT_EQ(_st.code(), Code::kInvalidArgument) << _st.ToString();           \
    EXPECT_EQ(_st.graph_code(), "Request_BadRequest") << _st.ToString();       \
    EXPECT_NE(_st.message().find(needle), std::string::npos) << _st.message(); \
  } while (0)

TEST(ObjectsTest, ApplicationShapesClientsSendAreAccepted) {
  // What the end-to-end tests, the portal and the Graph SDKs send, annotations included.
  json::object body = Parse(R"({
    "displayName": "Payroll",
    "web": {"redirectUris": ["https://payroll.example/cb", "http://localhost:5000/cb"],
            "homePageUrl": "https://payroll.example/",
            "logoutUrl": "https://payroll.example/logout",
            "implicitGrantSettings": {"enableIdTokenIssuance": false,
                                      "enableAccessTokenIssuance": false}},
    "spa": {"redirectUris": ["https://spa.example/"]},
    "publicClient": {"@odata.type": "#microsoft.graph.publicClientApplication",
                     "redirectUris": ["msal00000000-0000-4000-8000-000000000001://auth",
                                      "http://localhost"]},
    "api": {"@odata.type": "microsoft.graph.apiApplication",
            "requestedAccessTokenVersion": 2,
            "acceptMappedClaims": null,
            "knownClientApplications": [],
            "oauth2PermissionScopes": [{"id": "00000000-0000-4000-8000-000000000001",
               "adminConsentDescription": "Read payroll", "adminConsentDisplayName": "Read",
               "userConsentDescription": null, "userConsentDisplayName": null,
               "isEnabled": true, "type": "admin", "value": "Payroll.Read"}],
            "preAuthorizedApplications": [{"appId": "00000000-0000-4000-8000-000000000009",
               "delegatedPermissionIds": ["00000000-0000-4000-8000-000000000001"]}]},
    "appRoles": [{"id": "00000000-0000-4000-8000-000000000002",
                  "allowedMemberTypes": ["User", "Application"], "description": "Admins",
                  "displayName": "Admin", "isEnabled": true, "origin": "Application",
                  "value": "Payroll.Read"}],
    "requiredResourceAccess": [{"resourceAppId": "00000003-0000-0000-c000-000000000000",
        "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}]}]
  })");
  json::object data;
  Status st = Create("application", body, &data);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const json::object& api = data.at("api").as_object();
  EXPECT_FALSE(api.contains("@odata.type")) << "annotations are not stored";
  EXPECT_EQ(api.at("oauth2PermissionScopes").as_array()[0].at("type").as_string(), "Admin")
      << "enumeration values are stored as declared";
  EXPECT_EQ(api.at("requestedAccessTokenVersion").as_int64(), 2);
}

TEST(ObjectsTest, NestedMemberNamesAreStoredAsDeclared) {
  // The directory reads web.redirectUris by its declared name to check the URIs: a client must
  // not hide URIs from that check by spelling the member differently.
  json::object data;
  ASSERT_TRUE(
      Create("application",
             Parse(R"({"displayName": "A", "web": {"RedirectURIs": ["https://a.example/"]}})"),
             &data)
          .ok());
  EXPECT_TRUE(data.at("web").as_object().contains("redirectUris")) << json::serialize(data);
  EXPECT_REFUSED(Create("application", Parse(R"({"displayName": "A", "web": {
                   "redirectUris": ["https://a.example/"], "RedirectUris": []}})")),
                 "more than once");
}

TEST(ObjectsTest, UnknownNestedMemberIsRefused) {
  EXPECT_REFUSED(Create("application", Parse(R"({"displayName": "A", "api": {"bogus": 1}})")),
                 "Property 'bogus' does not exist as a declared property or extension property "
                 "of microsoft.graph.apiApplication.");
  json::object role = AppRole(1, "Reader");
  role["color"] = "red";
  EXPECT_REFUSED(Create("application", {{"displayName", "A"}, {"appRoles", json::array{role}}}),
                 "extension property of microsoft.graph.appRole.");
  EXPECT_REFUSED(Create("application", Parse(R"({"displayName": "A", "web": {
                   "implicitGrantSettings": {"enableEverything": true}}})")),
                 "microsoft.graph.implicitGrantSettings");
  EXPECT_REFUSED(Create("user", Parse(R"({"passwordProfile": {"password": "Xx1!xxxxxx",
                   "hint": "my dog"}})")),
                 "microsoft.graph.passwordProfile");
  EXPECT_REFUSED(Create("application", Parse(R"({"displayName": "A", "spa": {
                   "@odata.type": "#microsoft.graph.webApplication", "redirectUris": []}})")),
                 "@odata.type");
}

TEST(ObjectsTest, WrongNestedTypeIsRefused) {
  EXPECT_REFUSED(Create("application", Parse(R"({"api": {"acceptMappedClaims": "yes"}})")),
                 "Cannot convert the value of property 'api.acceptMappedClaims' to Edm.Boolean");
  EXPECT_REFUSED(Create("application", Parse(R"({"api": {"requestedAccessTokenVersion": "2"}})")),
                 "Edm.Int32");
  EXPECT_REFUSED(Create("application", Parse(R"({"api": {"requestedAccessTokenVersion": 3}})")),
                 "between 1 and 2");
  EXPECT_REFUSED(Create("application", Parse(R"({"api": {"requestedAccessTokenVersion": 2.5}})")),
                 "Edm.Int32");
  EXPECT_REFUSED(Create("application", Parse(R"({"api": {"knownClientApplications": ["x"]}})")),
                 "GUID");
  EXPECT_REFUSED(Create("application", Parse(R"({"web": {"redirectUris": "https://a.example/"}})")),
                 "Collection(Edm.String)");
  EXPECT_REFUSED(Create("application", Parse(R"({"web": {"redirectUris": [7]}})")), "Edm.String");
  EXPECT_REFUSED(Create("application", Parse(R"({"web": {"implicitGrantSettings": [true]}})")),
                 "microsoft.graph.implicitGrantSettings");
  EXPECT_REFUSED(Create("application", Parse(R"({"appRoles": [["not", "an", "object"]]})")),
                 "Collection(microsoft.graph.appRole)");
  json::object role = AppRole(1, "Reader");
  role["id"] = "not-a-guid";
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}), "Edm.Guid");
  role = AppRole(1, "Reader");
  role["allowedMemberTypes"] = json::array{"Robot"};
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}), "Invalid value 'Robot'");
  role = AppRole(1, "Reader");
  role["isEnabled"] = "true";
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}), "Edm.Boolean");
  json::object scope = Scope(1, "Read");
  scope["type"] = "Everyone";
  EXPECT_REFUSED(Create("application", {{"api", {{"oauth2PermissionScopes", json::array{scope}}}}}),
                 "Invalid value 'Everyone'");
  EXPECT_REFUSED(Create("application", Parse(R"({"requiredResourceAccess": [{
                   "resourceAppId": "00000003-0000-0000-c000-000000000000",
                   "resourceAccess": [{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d",
                                       "type": "Delegated"}]}]})")),
                 "Invalid value 'Delegated'");
}

TEST(ObjectsTest, RequiredAndNonNullableMembersAreEnforced) {
  json::object role = AppRole(1, "Reader");
  role.erase("id");
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}),
                 "Property 'appRoles.id' is required.");
  EXPECT_REFUSED(Create("application", Parse(R"({"web": {"redirectUris": null}})")),
                 "'web.redirectUris' cannot be null");
  EXPECT_REFUSED(
      Create("application", Parse(R"({"requiredResourceAccess": [{"resourceAccess": []}]})")),
      "resourceAppId' is required");
  EXPECT_TRUE(
      Create("application", Parse(R"({"api": {"requestedAccessTokenVersion": null}})")).ok());
}

TEST(ObjectsTest, OversizedNestedStringIsRefused) {
  json::object role = AppRole(1, "Reader");
  role["description"] = std::string(kDefaultMaxLength + 1, 'd');
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}),
                 "'appRoles.description' is too long: at most 1024 characters");
  role["description"] = std::string(kDefaultMaxLength, 'd');
  EXPECT_TRUE(Create("application", {{"appRoles", json::array{role}}}).ok());
  // Characters, not bytes: 1024 three-byte characters fit.
  std::string wide;
  for (size_t i = 0; i < kDefaultMaxLength; ++i) wide += "\xe2\x82\xac";  // U+20AC
  role["description"] = wide;
  EXPECT_TRUE(Create("application", {{"appRoles", json::array{role}}}).ok());

  role = AppRole(1, std::string(121, 'v'));
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{role}}}), "at most 120");
  EXPECT_TRUE(
      Create("application", {{"appRoles", json::array{AppRole(1, std::string(120, 'v'))}}}).ok());
  EXPECT_REFUSED(
      Create("application",
             {{"api", {{"oauth2PermissionScopes", json::array{Scope(1, std::string(121, 's'))}}}}}),
      "'api.oauth2PermissionScopes.value' is too long: at most 120");
  EXPECT_REFUSED(
      Create(
          "application",
          {{"web", {{"redirectUris", json::array{"https://a.example/" + std::string(240, 'p')}}}}}),
      "at most 256 characters");
  EXPECT_REFUSED(Create("user", {{"passwordProfile", {{"password", std::string(257, 'P')}}}}),
                 "'passwordProfile.password' is too long");
}

TEST(ObjectsTest, OversizedCollectionIsRefused) {
  json::array roles;
  for (int i = 0; i < 101; ++i) roles.push_back(AppRole(i, "Role" + std::to_string(i)));
  EXPECT_REFUSED(Create("application", {{"appRoles", roles}}),
                 "Property 'appRoles' has 101 values; at most 100 are allowed.");
  roles.pop_back();
  EXPECT_TRUE(Create("application", {{"appRoles", roles}}).ok());

  json::array scopes;
  for (int i = 0; i < 101; ++i) scopes.push_back(Scope(i, "S" + std::to_string(i)));
  EXPECT_REFUSED(Create("application", {{"api", {{"oauth2PermissionScopes", scopes}}}}),
                 "'api.oauth2PermissionScopes' has 101 values");

  json::array uris;
  for (int i = 0; i < 257; ++i)
    uris.push_back(json::string("https://a.example/" + std::to_string(i)));
  EXPECT_REFUSED(Create("application", {{"spa", {{"redirectUris", uris}}}}),
                 "'spa.redirectUris' has 257 values");

  json::array rra;
  for (int i = 0; i < 51; ++i) {
    rra.push_back({{"resourceAppId", Guid(i)}, {"resourceAccess", json::array{}}});
  }
  EXPECT_REFUSED(Create("application", {{"requiredResourceAccess", rra}}), "at most 50");

  json::array mails;
  for (int i = 0; i < 33; ++i)
    mails.push_back(json::string("a" + std::to_string(i) + "@x.example"));
  EXPECT_REFUSED(Create("user", {{"otherMails", mails}}), "at most 32");
}

TEST(ObjectsTest, DuplicateIdsAndValuesWithinACollectionAreRefused) {
  json::array roles{AppRole(1, "Reader"), AppRole(1, "Writer")};
  EXPECT_REFUSED(Create("application", {{"appRoles", roles}}),
                 "Two entries of 'appRoles' have the same id");
  // GUIDs compare without regard to case.
  json::object upper = AppRole(2, "Writer");
  upper["id"] = "AAAAAAAA-0000-4000-8000-000000000000";
  json::object lower = AppRole(3, "Reader");
  lower["id"] = "aaaaaaaa-0000-4000-8000-000000000000";
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{upper, lower}}}), "same id");

  EXPECT_REFUSED(Create("application",
                        {{"appRoles", json::array{AppRole(1, "Reader"), AppRole(2, "READER")}}}),
                 "have the same value 'READER'");
  EXPECT_REFUSED(
      Create("application",
             {{"api",
               {{"oauth2PermissionScopes", json::array{Scope(1, "Read"), Scope(1, "Write")}}}}}),
      "Two entries of 'api.oauth2PermissionScopes' have the same id");
  EXPECT_REFUSED(
      Create(
          "application",
          {{"api", {{"oauth2PermissionScopes", json::array{Scope(1, "Read"), Scope(2, "Read")}}}}}),
      "same value 'Read'");
  // A delegated permission and an app role may share a value (Microsoft Graph's User.Read.All
  // is both), and an app role without a value is not compared.
  json::object no_value = AppRole(3, "x");
  no_value.erase("value");
  EXPECT_TRUE(
      Create("application",
             {{"appRoles", json::array{AppRole(1, "User.Read.All"), no_value}},
              {"api", {{"oauth2PermissionScopes", json::array{Scope(2, "User.Read.All")}}}}})
          .ok());
}

TEST(ObjectsTest, ClaimValuesKeepToGraphsCharacterSet) {
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{AppRole(1, "Payroll Admin")}}}),
                 "not allowed");
  EXPECT_REFUSED(Create("application", {{"appRoles", json::array{AppRole(1, ".hidden")}}}),
                 "must not be empty or start with '.'");
  EXPECT_TRUE(
      Create("application", {{"appRoles", json::array{AppRole(1, "api://x/Task.Read_All:{1}")}}})
          .ok());
}

TEST(ObjectsTest, MegabyteApiObjectIsRefused) {
  // The incident: a 3.9 MB `api` object was stored.
  json::object api{{"oauth2PermissionScopes", json::array{}}};
  json::array& scopes = api["oauth2PermissionScopes"].as_array();
  for (int i = 0; i < 3900; ++i) {
    json::object s = Scope(i, "S" + std::to_string(i));
    s["adminConsentDescription"] = std::string(1000, 'x');
    scopes.push_back(std::move(s));
  }
  json::object body{{"displayName", "Big"}, {"api", api}};
  ASSERT_GT(json::serialize(body).size(), 3'900'000u);
  json::object data;
  EXPECT_REFUSED(ApplyBody(Type("application"), body, true, &data), "The request body takes");
  EXPECT_FALSE(data.contains("api"));
}

TEST(ObjectsTest, RecordSizeIsBounded) {
  json::object data{{"notes", std::string(kMaxRecordBytes - 12, 'n')}};
  ASSERT_EQ(json::serialize(data).size(), kMaxRecordBytes);
  EXPECT_TRUE(CheckRecordSize(data).ok());
  data["notes"] = std::string(kMaxRecordBytes - 11, 'n');
  EXPECT_REFUSED(CheckRecordSize(data), "the limit is 131072 bytes (128 KiB)");

  // A PATCH whose body is within bounds but makes the stored record too large.
  json::array roles;
  for (int i = 0; i < 100; ++i) {
    json::object r = AppRole(i, "R" + std::to_string(i));
    r["description"] = std::string(1000, 'd');
    roles.push_back(std::move(r));
  }
  json::object app;
  ASSERT_TRUE(
      ApplyBody(Type("application"), {{"displayName", "A"}, {"appRoles", roles}}, true, &app).ok());
  json::array scopes;
  for (int i = 0; i < 40; ++i) {
    json::object s = Scope(i, "S" + std::to_string(i));
    s["adminConsentDescription"] = std::string(1000, 'x');
    scopes.push_back(std::move(s));
  }
  json::object patch{{"api", {{"oauth2PermissionScopes", scopes}}}};
  ASSERT_LT(json::serialize(patch).size(), kMaxRecordBytes);
  EXPECT_REFUSED(ApplyBody(Type("application"), patch, false, &app),
                 "The object's properties take");
}

TEST(ObjectsTest, MailNicknameKeepsToGraphsCharacterSet) {
  for (const char* type : {"user", "group"}) {
    SCOPED_TRACE(type);
    EXPECT_REFUSED(Create(type, {{"mailNickname", "adele@contoso.com"}}), "mailNickname");
    EXPECT_REFUSED(Create(type, {{"mailNickname", "adele vance"}}), "mailNickname");
    EXPECT_REFUSED(Create(type, {{"mailNickname", "a(b)"}}), "mailNickname");
    EXPECT_REFUSED(Create(type, {{"mailNickname", "a;b"}}), "mailNickname");
    EXPECT_REFUSED(Create(type, {{"mailNickname", "caf\xc3\xa9"}}), "mailNickname");
    EXPECT_REFUSED(Create(type, {{"mailNickname", ""}}), "1 to 64");
    EXPECT_REFUSED(Create(type, {{"mailNickname", std::string(65, 'a')}}), "mailNickname");
    EXPECT_TRUE(Create(type, {{"mailNickname", std::string(64, 'a')}}).ok());
    EXPECT_TRUE(Create(type, {{"mailNickname", "ga-holders"}}).ok());
    EXPECT_TRUE(Create(type, {{"mailNickname", "adele.vance_2"}}).ok());
  }
  json::object user;
  ASSERT_TRUE(Create("user", {{"mailNickname", "adele"}}, &user).ok());
  EXPECT_REFUSED(ApplyBody(Type("user"), {{"mailNickname", "a@b"}}, false, &user), "mailNickname");
}

TEST(ObjectsTest, MailAddressesHaveTheShapeOfOne) {
  for (const char* bad : {"adele", "adele@", "@contoso.com", "adele@contoso", "a@@contoso.com",
                          "a b@contoso.com", "a..b@contoso.com", ".a@contoso.com", "a@-contoso.com",
                          "a@contoso..com", "a@contoso.com.", "a<b>@x.com"}) {
    SCOPED_TRACE(bad);
    EXPECT_REFUSED(Create("user", {{"mail", bad}}), "not a valid email address");
    EXPECT_REFUSED(Create("user", {{"otherMails", json::array{"ok@contoso.com", bad}}}),
                   "not a valid email address");
  }
  EXPECT_REFUSED(Create("user", {{"mail", std::string(65, 'a') + "@contoso.com"}}), "email");
  for (const char* good :
       {"adele@contoso.com", "Adele.Vance+news@mail.contoso.co.uk", "o'brien@x-y.example"}) {
    SCOPED_TRACE(good);
    EXPECT_TRUE(Create("user", {{"mail", good}}).ok());
    EXPECT_TRUE(Create("user", {{"otherMails", json::array{good}}}).ok());
  }
  EXPECT_REFUSED(Create("group", {{"mail", "g@contoso.com"}}), "read-only");
}

TEST(ObjectsTest, UsageLocationIsACountryCode) {
  EXPECT_TRUE(Create("user", {{"usageLocation", "US"}}).ok());
  EXPECT_TRUE(Create("user", {{"usageLocation", "de"}}).ok());
  EXPECT_REFUSED(Create("user", {{"usageLocation", "USA"}}), "usageLocation");
  EXPECT_REFUSED(Create("user", {{"usageLocation", "ZZ"}}), "ISO 3166-1");
}

TEST(ObjectsTest, KeyCredentialsHaveCertificateShape) {
  json::object data;
  json::object cred = KeyCredential(1);
  cred["type"] = "asymmetricx509cert";
  cred["startDateTime"] = "2025-01-01T00:00:00Z";
  cred["endDateTime"] = "2026-01-01T00:00:00Z";
  ASSERT_TRUE(
      Create("application", {{"keyCredentials", json::array{cred, KeyCredential(2)}}}, &data).ok());
  EXPECT_EQ(data.at("keyCredentials").as_array()[0].at("type").as_string(), "AsymmetricX509Cert");

  auto refused = [](json::object c, std::string_view needle) {
    EXPECT_REFUSED(Create("application", {{"keyCredentials", json::array{std::move(c)}}}), needle);
  };
  json::object c = KeyCredential(1);
  c.erase("key");
  refused(c, "'keyCredentials.key' is required");
  c = KeyCredential(1);
  c["key"] = "not base64!";
  refused(c, "not valid base64");
  c = KeyCredential(1);
  c["key"] = Base64Encode(std::string(12 * 1024 + 1, 'k'));  // > 16 KiB in base64
  refused(c, "at most 16384 characters");
  c = KeyCredential(1);
  c["type"] = "Symmetric";
  refused(c, "Invalid value 'Symmetric'");
  c = KeyCredential(1);
  c["usage"] = "Sign";
  refused(c, "Invalid value 'Sign'");
  c = KeyCredential(1);
  c["endDateTime"] = "next year";
  refused(c, "Edm.DateTimeOffset");
  c = KeyCredential(1);
  c["customKeyIdentifier"] = "%%%";
  refused(c, "base64");
  c = KeyCredential(1);
  c["passphrase"] = "x";
  refused(c, "microsoft.graph.keyCredential");

  EXPECT_REFUSED(
      Create("application", {{"keyCredentials", json::array{KeyCredential(1), KeyCredential(1)}}}),
      "same keyId");
  json::array many;
  for (int i = 0; i < 21; ++i) many.push_back(KeyCredential(i));
  EXPECT_REFUSED(Create("application", {{"keyCredentials", many}}), "at most 20");
}

TEST(ObjectsTest, WebUrlsAreChecked) {
  EXPECT_REFUSED(
      Create("application", {{"web", {{"redirectUris", json::array{"http://evil.example/cb"}}}}}),
      "must use https");
  EXPECT_REFUSED(Create("application", {{"spa", {{"redirectUris", json::array{"myapp://cb"}}}}}),
                 "must use https");
  EXPECT_REFUSED(
      Create("application", {{"publicClient", {{"redirectUris", json::array{"javascript://x"}}}}}),
      "must use https");
  EXPECT_REFUSED(Create("application", {{"web", {{"logoutUrl", "http://a.example/logout"}}}}),
                 "absolute https URL");
  EXPECT_REFUSED(Create("application", {{"web", {{"homePageUrl", "javascript:alert(1)"}}}}),
                 "absolute http or https URL");
  EXPECT_REFUSED(Create("application", Parse(R"({"web": {"redirectUriSettings": [
                   {"uri": "http://evil.example/", "index": 1}]}})")),
                 "must use https");
  EXPECT_TRUE(Create("application", Parse(R"({"web": {"redirectUriSettings": [
                   {"uri": "https://a.example/", "index": null}]}})"))
                  .ok());
}

TEST(ObjectsTest, RolePermissionsDeclareTheirMembers) {
  EXPECT_TRUE(Create("roleDefinition", Parse(R"({"rolePermissions": [{"allowedResourceActions":
                   ["microsoft.directory/users/basic/update"], "condition": null}]})"))
                  .ok());
  EXPECT_REFUSED(Create("roleDefinition", Parse(R"({"rolePermissions": [{"actions": ["*"]}]})")),
                 "microsoft.graph.unifiedRolePermission");
}

TEST(ObjectsTest, TopLevelPropertyGivenTwiceInDifferentCaseIsRefused) {
  EXPECT_REFUSED(Create("user", Parse(R"({"mailNickname": "a", "MailNickname": "b@c"})")),
                 "more than once");
}

TEST(ObjectsTest, EveryWritableComplexPropertyDeclaresItsMembers) {
  for (const TypeSchema* t : AllTypes()) {
    for (const Property& p : t->properties) {
      if (p.read_only() || (p.type != PropType::kObject && p.type != PropType::kObjectCollection)) {
        continue;
      }
      EXPECT_NE(p.complex, nullptr) << t->type << "." << p.name;
    }
  }
  // And one without members refuses every value rather than storing it unchecked.
  Property bare{"bare", PropType::kObject};
  EXPECT_FALSE(ValidateValue(bare, json::object{}).ok());
}

TEST(ObjectsTest, AddressesAreTheFoldedSmtpAddressesAnObjectClaims) {
  json::object user = Parse(R"({"userPrincipalName": "Adele@Contoso.com",
      "mail": "adele.vance@contoso.com",
      "proxyAddresses": ["SMTP:Adele.Vance@contoso.com", "smtp:av@Contoso.com",
                         "SIP:adele@contoso.com", "X500:/o=Contoso/cn=adele", "plain@contoso.com"],
      "otherMails": ["adele@gmail.example"]})");
  EXPECT_EQ(Addresses("user", user),
            (std::set<std::string>{"adele@contoso.com", "adele.vance@contoso.com", "av@contoso.com",
                                   "plain@contoso.com"}));
  json::object group = Parse(R"({"mail": "Team@contoso.com", "userPrincipalName": "x@y.com",
      "proxyAddresses": ["SMTP:team@contoso.com", "smtp:team-alias@contoso.com"]})");
  EXPECT_EQ(Addresses("group", group),
            (std::set<std::string>{"team@contoso.com", "team-alias@contoso.com"}))
      << "a group has no userPrincipalName to claim";
  EXPECT_TRUE(Addresses("group", Parse(R"({"mailNickname": "g"})")).empty());
  EXPECT_TRUE(Addresses("application", Parse(R"({"mail": "a@b.com"})")).empty());
}

}  // namespace
}  // namespace meridian::directory
