// Delegated permissions: what a user's access token (an application acting for a signed-in user)
// may do through the Graph API. As in Microsoft Graph, the effective permission is the
// intersection of the token's scopes (scp: what the user consented to) and the user's own
// privileges (the directory's authorization, unchanged): a token for User.Read cannot manage the
// directory even when its user is a Global Administrator. Tokens of applications (client
// credentials) are not concerned: roles alone decide for them.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::graph {

// What a route acts on, for the scopes that allow it.
enum class Area {
  kUsers,
  kGroups,
  kApplications,  // applications and service principals
  kRoles,
  kPermissionGrants,
  kOrganization,
  kDirectoryObjects,  // directoryObjects and domains
  kAuditLogs,
  kAuthenticationMethods,
  kMe,
};

// The area of a route pattern ("/v1.0/users/{id}/memberOf", ...). Internal error for a pattern
// no area names: every route must be placed.
Result<Area> AreaOf(std::string_view pattern);

// Ok when `scopes` (a token's scp) allow a `write` (else a read) in `area`; `own` says the route
// acts on the caller's own user object, which User.Read allows to read and User.ReadWrite to
// update (the caller decides what `own` covers: an update of profile properties, not a delete or
// the account's security). Forbidden with Graph's code otherwise, naming the scopes that would.
Status AllowDelegated(Area area, bool write, bool own, const std::set<std::string>& scopes);

}  // namespace meridian::graph
