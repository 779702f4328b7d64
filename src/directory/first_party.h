// First-party applications: the APIs this deployment itself serves, whose service principals
// every tenant holds (as every Entra tenant holds Microsoft Graph's), so that delegated
// permission grants (directory/permission_grants.h) can name them as their resource.
#pragma once

#include <string>
#include <string_view>

#include "directory/records.h"

namespace meridian::directory {

// Microsoft Graph's well-known application id, which scopes may name ("<appId>/.default").
inline constexpr std::string_view kGraphAppId = "00000003-0000-0000-c000-00000000d1a0";

// Graph's service principal in a tenant, with object id `id`.
Object GraphServicePrincipal(std::string id);

}  // namespace meridian::directory
