// Delegated permission grants (Graph's oAuth2PermissionGrant): which scopes of a resource's API a
// client may use on behalf of users: all of the tenant's (an administrator's consent,
// consentType AllPrincipals) or one (that user's own consent, consentType Principal). The sign-in
// pages ask for consent to the scopes not granted yet; the scopes granted are an access token's
// `scp`.
#pragma once

#include <boost/json/object.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "directory/records.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {

// Checks and completes a new grant's record `data` (checked against the schema already):
// clientId and resourceId name service principals of the tenant; principalId names a user, and
// is present exactly when consentType is Principal; scope is normalized to single spaces.
// AlreadyExists when the tenant has a grant for the same client, resource and principal (add
// scopes to it instead, as Entra requires).
Status PrepareGrant(const store::ReadView& view, const store::TenantKeys& keys,
                    boost::json::object* data);

// The grants of client `client_sp` (a service principal's id), whatever their resource.
Result<std::vector<Object>> GrantsOf(const store::ReadView& view, const store::TenantKeys& keys,
                                     std::string_view client_sp);

// The scopes of a grant's scope string (space-separated).
std::set<std::string> SplitScopes(std::string_view scope);

// The scopes granted to client `client_sp` on resource `resource_sp` for user `user_id`: those
// of the tenant-wide grant and of the user's own.
Result<std::set<std::string>> GrantedScopes(const store::ReadView& view,
                                            const store::TenantKeys& keys,
                                            std::string_view client_sp,
                                            std::string_view resource_sp, std::string_view user_id);

}  // namespace meridian::directory
