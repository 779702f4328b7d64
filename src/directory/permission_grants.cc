#include "directory/permission_grants.h"

#include <sstream>
#include <vector>

#include "common/encoding.h"
#include "directory/first_party.h"
#include "directory/records.h"

namespace meridian::directory {
namespace json = boost::json;

namespace {

constexpr char kType[] = "oauth2PermissionGrant";

Status MustBe(const store::ReadView& view, const store::TenantKeys& keys, std::string_view id,
              std::string_view type, std::string_view property) {
  MERIDIAN_ASSIGN_OR_RETURN(auto kind, ReadKind(view, keys, AsciiLower(id)));
  if (!kind || *kind != type) {
    return InvalidArgument(std::string(property) + " '" + std::string(id) + "' is not a " +
                               std::string(type) + " of this tenant.",
                           "Request_BadRequest");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<Object>> GrantsOf(const store::ReadView& view, const store::TenantKeys& keys,
                                     std::string_view client_sp) {
  std::vector<std::string> ids;
  std::string prefix =
      keys.IndexPrefix(kType, "clientId") + store::EncodeIndexValue(AsciiLower(client_sp));
  MERIDIAN_RETURN_IF_ERROR(
      view.Scan(prefix, store::PrefixEnd(prefix), false, [&](std::string_view k, std::string_view) {
        ids.emplace_back(k.substr(prefix.size()));
        return true;
      }));
  std::vector<Object> out;
  for (const std::string& id : ids) {
    MERIDIAN_ASSIGN_OR_RETURN(Object g, ReadObject(view, keys, kType, id));
    out.push_back(std::move(g));
  }
  return out;
}

std::set<std::string> SplitScopes(std::string_view scope) {
  std::set<std::string> out;
  std::istringstream in{std::string(scope)};
  for (std::string s; in >> s;) out.insert(s);
  return out;
}


Status PrepareGrant(const store::ReadView& view, const store::TenantKeys& keys,
                    json::object* data) {
  std::string client = AsciiLower(Str(*data, "clientId"));
  std::string resource = AsciiLower(Str(*data, "resourceId"));
  std::string consent = Str(*data, "consentType");
  std::string principal = AsciiLower(Str(*data, "principalId"));
  MERIDIAN_RETURN_IF_ERROR(MustBe(view, keys, client, "servicePrincipal", "clientId"));
  MERIDIAN_RETURN_IF_ERROR(MustBe(view, keys, resource, "servicePrincipal", "resourceId"));
  if ((consent == "Principal") != !principal.empty()) {
    return InvalidArgument("principalId is required with consentType Principal, and only then.",
                           "Request_BadRequest");
  }
  if (!principal.empty())
    MERIDIAN_RETURN_IF_ERROR(MustBe(view, keys, principal, "user", "principalId"));
  MERIDIAN_ASSIGN_OR_RETURN(auto existing, GrantsOf(view, keys, client));
  for (const Object& g : existing) {
    if (AsciiLower(Str(g.data, "resourceId")) == resource &&
        AsciiLower(Str(g.data, "principalId")) == principal) {
      return AlreadyExists(
          "A permission grant of this client on this resource exists already "
          "for this principal; update its scope.");
    }
  }
  std::string scope;
  for (const std::string& s : SplitScopes(Str(*data, "scope"))) scope += (scope.empty() ? "" : " ") + s;
  (*data)["clientId"] = client;
  (*data)["resourceId"] = resource;
  (*data)["principalId"] = principal.empty() ? json::value(nullptr) : json::value(principal);
  (*data)["scope"] = scope;
  return Status::Ok();
}

Result<std::set<std::string>> GrantedScopes(const store::ReadView& view,
                                            const store::TenantKeys& keys,
                                            std::string_view client_sp,
                                            std::string_view resource_sp,
                                            std::string_view user_id) {
  std::set<std::string> scopes;
  MERIDIAN_ASSIGN_OR_RETURN(auto grants, GrantsOf(view, keys, client_sp));
  for (const Object& g : grants) {
    if (AsciiLower(Str(g.data, "resourceId")) != AsciiLower(resource_sp)) continue;
    std::string consent = Str(g.data, "consentType");
    if (consent == "Principal" && AsciiLower(Str(g.data, "principalId")) != AsciiLower(user_id)) {
      continue;
    }
    for (const std::string& s : SplitScopes(Str(g.data, "scope"))) scopes.insert(s);
  }
  return scopes;
}

Object GraphServicePrincipal(std::string id) {
  Object sp;
  sp.id = std::move(id);
  sp.data = {{"id", sp.id},
             {"appId", kGraphAppId},
             {"displayName", "Microsoft Graph"},
             {"appDisplayName", "Microsoft Graph"},
             {"accountEnabled", true},
             {"servicePrincipalType", "Application"},
             {"servicePrincipalNames", json::array{kGraphAppId}},
             {"appRoles", json::array{}}};
  return sp;
}

}  // namespace meridian::directory
