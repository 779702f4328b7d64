#include "directory/schema.h"

#include "common/encoding.h"

namespace meridian::directory {
namespace {

using P = PropType;

const TypeSchema kUser{
    "user",
    "users",
    "#microsoft.graph.user",
    "UserManagement",
    {
        {"id", P::kGuid, kIndexed | kReadOnly},
        {"userPrincipalName", P::kString, kUnique | kRequired},
        {"displayName", P::kString, kIndexed | kRequired},
        {"mailNickname", P::kString, kIndexed | kRequired},
        {"accountEnabled", P::kBool, kIndexed | kRequired},
        {"passwordProfile", P::kObject, kWriteOnly | kRequired},
        {"mail", P::kString, kIndexed},
        {"givenName", P::kString, kIndexed},
        {"surname", P::kString, kIndexed},
        {"jobTitle", P::kString, kIndexed},
        {"department", P::kString, kIndexed},
        {"companyName", P::kString, kIndexed},
        {"employeeId", P::kString, kIndexed},
        {"userType", P::kString, kIndexed, {"Member", "Guest"}},
        {"createdDateTime", P::kDateTime, kIndexed | kReadOnly},
        {"otherMails", P::kStringCollection, kIndexed},
        {"proxyAddresses", P::kStringCollection, kIndexed | kReadOnly},
        {"businessPhones", P::kStringCollection},
        {"mobilePhone", P::kString},
        {"officeLocation", P::kString, kIndexed},
        {"preferredLanguage", P::kString},
        {"usageLocation", P::kString, kIndexed},
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
        {"mailNickname", P::kString, kIndexed | kRequired},
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
        {"web", P::kObject},
        {"spa", P::kObject},
        {"publicClient", P::kObject},
        {"api", P::kObject},
        {"appRoles", P::kObjectCollection},
        {"requiredResourceAccess", P::kObjectCollection},
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
        {"rolePermissions", P::kObjectCollection, kRequired},
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

const Property* TypeSchema::Find(std::string_view name) const {
  for (const Property& p : properties) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
}

const std::vector<const TypeSchema*>& AllTypes() {
  static const std::vector<const TypeSchema*> kAll = {
      &kUser, &kGroup, &kApplication, &kServicePrincipal, &kRoleDefinition, &kRoleAssignment,
      &kDomain};
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
