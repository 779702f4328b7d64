#include "directory/schema.h"

#include "common/encoding.h"
#include "directory/value_checks.h"

namespace meridian::directory {
namespace {

using P = PropType;

// Complex types, with Graph v1.0's members. Bounds come from Entra's documented limits where there
// is one ("Validation differences by supported account types", "Redirect URI restrictions", the
// resource pages), and are our choice otherwise (marked "chosen"): far above what applications
// use, small enough that no single member can fill a record (kMaxRecordBytes, objects.h).
// Members are nullable unless required or collections, as in Graph.

// A redirect URI is at most 256 characters and an app has at most 256 of them (documented).
constexpr size_t kMaxRedirectUris = 256;
constexpr size_t kMaxUriLength = 256;

const ComplexType kPermissionScope{
    "microsoft.graph.permissionScope",
    {
        {.name = "id", .type = P::kGuid, .flags = kRequired | kUniqueInCollection},
        {.name = "adminConsentDescription", .type = P::kString},
        {.name = "adminConsentDisplayName", .type = P::kString, .max_length = 256},  // chosen
        {.name = "userConsentDescription", .type = P::kString},
        {.name = "userConsentDisplayName", .type = P::kString, .max_length = 256},  // chosen
        {.name = "isEnabled", .type = P::kBool},
        {.name = "type", .type = P::kString, .allowed = {"User", "Admin"}},
        // Read-only in Graph; a client that sends back what it read sends "Application".
        {.name = "origin", .type = P::kString, .allowed = {"Application"}},
        // The scp claim: 120 characters at most (documented).
        {.name = "value",
         .type = P::kString,
         .flags = kUniqueInCollection,
         .max_length = 120,
         .check = CheckClaimValue},
    }};

const ComplexType kPreAuthorizedApplication{
    "microsoft.graph.preAuthorizedApplication",
    {
        {.name = "appId", .type = P::kGuid, .flags = kRequired | kUniqueInCollection},
        {.name = "delegatedPermissionIds",
         .type = P::kStringCollection,
         .max_count = 100,
         .check = CheckGuid},
    }};

const ComplexType kApiApplication{
    "microsoft.graph.apiApplication",
    {
        {.name = "acceptMappedClaims", .type = P::kBool},
        {.name = "knownClientApplications",
         .type = P::kStringCollection,
         .max_count = 100,  // chosen
         .check = CheckGuid},
        // Entra has no per-collection limit below ~1,000 entries across an app's collections;
        // 100 is its limit for apps of personal accounts, and ours for every app.
        {.name = "oauth2PermissionScopes",
         .type = P::kObjectCollection,
         .max_count = 100,
         .complex = &kPermissionScope},
        {.name = "preAuthorizedApplications",
         .type = P::kObjectCollection,
         .max_count = 100,  // documented for apps of personal accounts
         .complex = &kPreAuthorizedApplication},
        {.name = "requestedAccessTokenVersion", .type = P::kInt, .min_value = 1, .max_value = 2},
    }};

const ComplexType kImplicitGrantSettings{
    "microsoft.graph.implicitGrantSettings",
    {
        {.name = "enableAccessTokenIssuance", .type = P::kBool},
        {.name = "enableIdTokenIssuance", .type = P::kBool},
    }};

const ComplexType kRedirectUriSettings{
    "microsoft.graph.redirectUriSettings",
    {
        {.name = "uri", .type = P::kString, .max_length = kMaxUriLength, .check = CheckRedirectUri},
        {.name = "index", .type = P::kInt, .min_value = 0},
    }};

const ComplexType kWebApplication{
    "microsoft.graph.webApplication",
    {
        {.name = "homePageUrl",
         .type = P::kString,
         .max_length = kMaxUriLength,
         .check = CheckWebUrl},
        // Front-channel logout URL: https, 255 characters at most (documented).
        {.name = "logoutUrl", .type = P::kString, .max_length = 255, .check = CheckHttpsUrl},
        {.name = "redirectUris",
         .type = P::kStringCollection,
         .max_length = kMaxUriLength,
         .max_count = kMaxRedirectUris,
         .check = CheckRedirectUri},
        {.name = "implicitGrantSettings", .type = P::kObject, .complex = &kImplicitGrantSettings},
        {.name = "redirectUriSettings",
         .type = P::kObjectCollection,
         .max_count = kMaxRedirectUris,
         .complex = &kRedirectUriSettings},
    }};

const ComplexType kSpaApplication{
    "microsoft.graph.spaApplication",
    {
        {.name = "redirectUris",
         .type = P::kStringCollection,
         .max_length = kMaxUriLength,
         .max_count = kMaxRedirectUris,
         .check = CheckRedirectUri},
    }};

const ComplexType kPublicClientApplication{
    "microsoft.graph.publicClientApplication",
    {
        {.name = "redirectUris",
         .type = P::kStringCollection,
         .max_length = kMaxUriLength,
         .max_count = kMaxRedirectUris,
         .check = CheckPublicClientRedirectUri},
    }};

const ComplexType kAppRole{
    "microsoft.graph.appRole",
    {
        {.name = "id", .type = P::kGuid, .flags = kRequired | kUniqueInCollection},
        {.name = "allowedMemberTypes",
         .type = P::kStringCollection,
         .allowed = {"User", "Application"},
         .max_count = 2},
        {.name = "description", .type = P::kString},
        {.name = "displayName", .type = P::kString, .max_length = 256},  // chosen
        {.name = "isEnabled", .type = P::kBool},
        // Read-only in Graph; a client that sends back what it read sends "Application".
        {.name = "origin", .type = P::kString, .allowed = {"Application"}},
        // The roles claim: 120 characters at most (documented).
        {.name = "value",
         .type = P::kString,
         .flags = kUniqueInCollection,
         .max_length = 120,
         .check = CheckClaimValue},
    }};

const ComplexType kResourceAccess{
    "microsoft.graph.resourceAccess",
    {
        {.name = "id", .type = P::kGuid, .flags = kRequired},
        {.name = "type", .type = P::kString, .flags = kRequired, .allowed = {"Scope", "Role"}},
    }};

const ComplexType kRequiredResourceAccess{
    "microsoft.graph.requiredResourceAccess",
    {
        {.name = "resourceAppId", .type = P::kGuid, .flags = kRequired | kUniqueInCollection},
        // No more than 400 permissions across all APIs (documented).
        {.name = "resourceAccess",
         .type = P::kObjectCollection,
         .max_count = 400,
         .complex = &kResourceAccess},
    }};

const ComplexType kKeyCredential{
    "microsoft.graph.keyCredential",
    {
        {.name = "keyId", .type = P::kGuid, .flags = kUniqueInCollection},
        {.name = "customKeyIdentifier",  // chosen bound, as for displayName
         .type = P::kString,
         .max_length = 256,
         .check = CheckBase64},
        {.name = "displayName", .type = P::kString, .max_length = 256},
        {.name = "startDateTime", .type = P::kDateTime},
        {.name = "endDateTime", .type = P::kDateTime},
        // Certificates verify client assertions (private_key_jwt); signing keys and symmetric
        // keys are not supported.
        {.name = "type", .type = P::kString, .flags = kRequired, .allowed = {"AsymmetricX509Cert"}},
        {.name = "usage", .type = P::kString, .flags = kRequired, .allowed = {"Verify"}},
        // The certificate, DER in base64; 16 KiB holds any RSA or EC certificate (chosen).
        {.name = "key",
         .type = P::kString,
         .flags = kRequired,
         .max_length = 16 * 1024,
         .check = CheckBase64},
    }};

const ComplexType kPasswordProfile{
    "microsoft.graph.passwordProfile",
    {
        // The password policy (password_policy.h) allows 256 characters.
        {.name = "password", .type = P::kString, .max_length = 256},
        {.name = "forceChangePasswordNextSignIn", .type = P::kBool},
        {.name = "forceChangePasswordNextSignInWithMfa", .type = P::kBool},
    }};

const ComplexType kUnifiedRolePermission{
    "microsoft.graph.unifiedRolePermission",
    {
        {.name = "allowedResourceActions", .type = P::kStringCollection, .max_length = 256},
        {.name = "condition", .type = P::kString},
        {.name = "excludedResourceActions", .type = P::kStringCollection, .max_length = 256},
    }};

const TypeSchema kUser{
    "user",
    "users",
    "#microsoft.graph.user",
    "UserManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"userPrincipalName", P::kString, kUnique | kRequired},
        {"displayName", P::kString, kIndexed | kRequired},
        {.name = "mailNickname",
         .type = P::kString,
         .flags = kIndexed | kRequired,
         .max_length = 64,
         .check = CheckMailNickname},
        {"accountEnabled", P::kBool, kIndexed | kRequired},
        {.name = "passwordProfile",
         .type = P::kObject,
         .flags = kWriteOnly | kRequired,
         .complex = &kPasswordProfile},
        {.name = "mail",
         .type = P::kString,
         .flags = kIndexed,
         .max_length = 254,
         .check = CheckEmailAddress},
        {"givenName", P::kString, kIndexed},
        {"surname", P::kString, kIndexed},
        {"jobTitle", P::kString, kIndexed},
        {"department", P::kString, kIndexed},
        {"companyName", P::kString, kIndexed},
        {"employeeId", P::kString, kIndexed},
        {"userType", P::kString, kIndexed, {"Member", "Guest"}},
        {"createdDateTime", P::kDateTime, kIndexed | kReadOnly},
        {.name = "otherMails",
         .type = P::kStringCollection,
         .flags = kIndexed,
         .max_length = 254,
         .max_count = 32,  // chosen
         .check = CheckEmailAddress},
        {"proxyAddresses", P::kStringCollection, kIndexed | kReadOnly},
        {"businessPhones", P::kStringCollection},
        {"mobilePhone", P::kString},
        {"officeLocation", P::kString, kIndexed},
        {"preferredLanguage", P::kString},
        {.name = "usageLocation",
         .type = P::kString,
         .flags = kIndexed,
         .max_length = 2,
         .check = CheckCountryCode},
        {"city", P::kString, kIndexed},
        {"state", P::kString, kIndexed},
        {"country", P::kString, kIndexed},
        {"streetAddress", P::kString},
        {"postalCode", P::kString},
        {"onPremisesImmutableId", P::kString, kIndexed},
    }};

const TypeSchema kGroup{
    "group",
    "groups",
    "#microsoft.graph.group",
    "GroupManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"displayName", P::kString, kIndexed | kRequired},
        {.name = "mailNickname",
         .type = P::kString,
         .flags = kIndexed | kRequired,
         .max_length = 64,
         .check = CheckMailNickname},
        {"mailEnabled", P::kBool, kIndexed | kRequired},
        {"securityEnabled", P::kBool, kIndexed | kRequired},
        {"groupTypes", P::kStringCollection, kIndexed | kImmutable},
        {"description", P::kString, kIndexed},
        {"mail", P::kString, kIndexed | kReadOnly},
        {"visibility", P::kString, kNone, {"Public", "Private", "HiddenMembership"}},
        {"isAssignableToRole", P::kBool, kIndexed | kImmutable},
        {"createdDateTime", P::kDateTime, kIndexed | kReadOnly},
        {"proxyAddresses", P::kStringCollection, kIndexed | kReadOnly},
    }};

const TypeSchema kApplication{
    "application",
    "applications",
    "#microsoft.graph.application",
    "ApplicationManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"appId", P::kGuid, kUnique | kReadOnly},
        {"displayName", P::kString, kIndexed | kRequired},
        {"description", P::kString},
        {"signInAudience", P::kString, kIndexed,
         {"AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount",
          "PersonalMicrosoftAccount"}},
        {"identifierUris", P::kStringCollection, kIndexed},
        {"tags", P::kStringCollection, kIndexed},
        {"notes", P::kString},
        {.name = "web", .type = P::kObject, .complex = &kWebApplication},
        {.name = "spa", .type = P::kObject, .complex = &kSpaApplication},
        {.name = "publicClient", .type = P::kObject, .complex = &kPublicClientApplication},
        // "Allow public client flows": the password and device code grants without a secret.
        {"isFallbackPublicClient", P::kBool},
        // Which groups the tokens of the application's users name.
        {"groupMembershipClaims", P::kString, kNone,
         {"None", "SecurityGroup", "All", "DirectoryRole", "ApplicationGroup"}},
        {.name = "api", .type = P::kObject, .complex = &kApiApplication},
        // Chosen: Entra's only bound is ~1,000 entries across an app's collections.
        {.name = "appRoles", .type = P::kObjectCollection, .max_count = 100, .complex = &kAppRole},
        // No more than 50 APIs (resource apps) per app (documented).
        {.name = "requiredResourceAccess",
         .type = P::kObjectCollection,
         .max_count = 50,
         .complex = &kRequiredResourceAccess},
        {.name = "keyCredentials",
         .type = P::kObjectCollection,
         .max_count = 20,  // chosen
         .complex = &kKeyCredential},
        {"passwordCredentials", P::kObjectCollection, kReadOnly},
        {"publisherDomain", P::kString, kReadOnly},
        {"createdDateTime", P::kDateTime, kIndexed | kReadOnly},
    }};

const TypeSchema kServicePrincipal{
    "servicePrincipal",
    "servicePrincipals",
    "#microsoft.graph.servicePrincipal",
    "ApplicationManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"appId", P::kGuid, kUnique | kRequired | kImmutable},
        {"displayName", P::kString, kIndexed},
        {"accountEnabled", P::kBool, kIndexed},
        {"appDisplayName", P::kString, kReadOnly},
        {"appOwnerOrganizationId", P::kGuid, kReadOnly},
        {"servicePrincipalType", P::kString, kIndexed | kReadOnly},
        {"servicePrincipalNames", P::kStringCollection, kIndexed | kReadOnly},
        {"tags", P::kStringCollection, kIndexed},
        {"appRoles", P::kObjectCollection, kReadOnly},
        {"description", P::kString},
        {"notes", P::kString},
    }};

const TypeSchema kRoleDefinition{
    "roleDefinition",
    "roleManagement/directory/roleDefinitions",
    "#microsoft.graph.unifiedRoleDefinition",
    "RoleManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"displayName", P::kString, kIndexed | kRequired},
        {"description", P::kString},
        {"isBuiltIn", P::kBool, kIndexed | kReadOnly},
        {"isEnabled", P::kBool, kIndexed | kRequired},
        {"templateId", P::kString, kIndexed | kReadOnly},
        {"version", P::kString},
        {.name = "rolePermissions",
         .type = P::kObjectCollection,
         .flags = kRequired,
         .max_count = 16,  // chosen; Entra's custom roles hold one
         .complex = &kUnifiedRolePermission},
    }};

const TypeSchema kRoleAssignment{
    "roleAssignment",
    "roleManagement/directory/roleAssignments",
    "#microsoft.graph.unifiedRoleAssignment",
    "RoleManagement",
    {
        {"id", P::kString, kIndexed | kReadOnly},
        {"principalId", P::kGuid, kIndexed | kRequired | kImmutable},
        {"roleDefinitionId", P::kGuid, kIndexed | kRequired | kImmutable},
        {"directoryScopeId", P::kString, kIndexed | kImmutable},
    }};

// A delegated permission granted to a client (its service principal) on a resource's API: for
// every user of the tenant (an administrator's consent) or for one (the user's own). What the
// sign-in pages consult before asking for consent, and what an access token's scp holds.
const TypeSchema kOAuth2PermissionGrant{
    "oauth2PermissionGrant",
    "oauth2PermissionGrants",
    "#microsoft.graph.oAuth2PermissionGrant",
    "ApplicationManagement",
    {
        {"id", P::kString, kIndexed | kReadOnly},
        {"clientId", P::kGuid, kIndexed | kRequired | kImmutable},
        {.name = "consentType",
         .type = P::kString,
         .flags = kIndexed | kRequired | kImmutable,
         .allowed = {"AllPrincipals", "Principal"}},
        {"principalId", P::kGuid, kIndexed | kImmutable},
        {"resourceId", P::kGuid, kIndexed | kRequired | kImmutable},
        {.name = "scope", .type = P::kString, .max_length = 3850},
    }};

const TypeSchema kDomain{
    "domain",
    "domains",
    "#microsoft.graph.domain",
    "DirectoryManagement",
    {
        {"id", P::kString, kIndexed | kReadOnly},
        {"isVerified", P::kBool, kIndexed | kReadOnly},
        {"isDefault", P::kBool, kIndexed | kReadOnly},
        {"isInitial", P::kBool, kIndexed | kReadOnly},
        {"authenticationType", P::kString, kReadOnly},
        {"supportedServices", P::kStringCollection, kReadOnly},
    }};

}  // namespace

const Property* ComplexType::Find(std::string_view name) const {
  for (const Property& p : members) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

const Property* TypeSchema::Find(std::string_view name) const {
  for (const Property& p : properties) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

const std::vector<const TypeSchema*>& AllTypes() {
  static const std::vector<const TypeSchema*> kAll = {
      &kUser,           &kGroup,          &kApplication,           &kServicePrincipal,
      &kRoleDefinition, &kRoleAssignment, &kOAuth2PermissionGrant, &kDomain};
  return kAll;
}

const TypeSchema* FindType(std::string_view type) {
  for (const TypeSchema* t : AllTypes()) {
    if (t->type == type) return t;
  }
  return nullptr;
}

const TypeSchema* FindCollection(std::string_view collection) {
  for (const TypeSchema* t : AllTypes()) {
    if (EqualsIgnoreCase(t->collection, collection)) return t;
  }
  return nullptr;
}

}  // namespace meridian::directory
