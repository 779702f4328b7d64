// The `scope` parameter as Entra's v2.0 endpoints read it: OpenID Connect's scopes (openid,
// profile, email, offline_access) beside the permissions of one resource, each written
// "<resource>/<permission>" (the resource by application id URI or appId) or, for Microsoft
// Graph, by its bare name; "<resource>/.default" asks for what the resource grants the client.
// The resource is the access token's audience.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::auth {

// The Graph resource as this deployment names it.
struct GraphResource {
  std::string uri;     // application id URI, the tokens' aud
  std::string app_id;  // its well-known appId, accepted in scopes too
};

struct ScopeRequest {
  bool openid = false, profile = false, email = false, offline_access = false;
  std::string resource;                  // the audience; empty: none named (Graph's User.Read)
  bool default_scope = false;            // "<resource>/.default"
  std::vector<std::string> permissions;  // named permissions of the resource, in request order
                                         // (Graph's as Graph spells them)

  // The OpenID Connect scopes asked for, space-separated, in a fixed order.
  std::string OidcScopes() const;
  // The permissions that need consent: those named, or User.Read (signing in and reading one's
  // profile, which Entra's sign-in consent stands for) when none is named; none for .default,
  // which stands for what is granted already.
  std::vector<std::string> Requested() const;
};

// Parses `scope` (space-separated; empty entries skipped). InvalidArgument with graph_code
// "invalid_scope" for a permission of a resource other than Graph (only Graph's are served), a
// Graph permission that Graph does not define, .default beside named permissions, scopes of two
// resources, more than 50 entries or a scope over 256 characters.
Result<ScopeRequest> ParseScopes(std::string_view scope, const GraphResource& graph);

// A delegated permission of Graph: its name, what the consent page says it allows, and whether
// only an administrator may consent to it.
struct GraphPermission {
  std::string_view name;
  std::string_view description;
  bool admin_consent;
};

// Graph's delegated permission `name` (any case), or null when this deployment does not serve it.
const GraphPermission* FindGraphPermission(std::string_view name);

}  // namespace meridian::auth
