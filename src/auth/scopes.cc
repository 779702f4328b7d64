#include "auth/scopes.h"

#include <algorithm>

#include "common/encoding.h"

namespace meridian::auth {

namespace {

// Graph's delegated permissions for the objects this directory holds (names as Graph spells
// them); the Graph API decides what each caller may do from the user's roles.
constexpr std::string_view kGraphPermissions[] = {
    "User.Read",           "User.ReadBasic.All",      "User.Read.All",
    "User.ReadWrite",      "User.ReadWrite.All",      "Group.Read.All",
    "Group.ReadWrite.All", "GroupMember.Read.All",    "Application.Read.All",
    "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All", "AuditLog.Read.All", "RoleManagement.Read.Directory",
    "UserAuthenticationMethod.ReadWrite.All"};

Status Invalid(std::string why) {
  return Status(Code::kInvalidArgument, std::move(why), "invalid_scope");
}

}  // namespace

bool IsGraphPermission(std::string_view name) {
  return std::any_of(std::begin(kGraphPermissions), std::end(kGraphPermissions),
                     [&](std::string_view p) { return EqualsIgnoreCase(p, name); });
}

std::string ScopeRequest::OidcScopes() const {
  std::string out;
  auto add = [&](bool on, std::string_view s) {
    if (!on) return;
    if (!out.empty()) out += ' ';
    out += s;
  };
  add(openid, "openid");
  add(profile, "profile");
  add(email, "email");
  add(offline_access, "offline_access");
  return out;
}

Result<ScopeRequest> ParseScopes(std::string_view scope, const GraphResource& graph) {
  ScopeRequest out;
  int count = 0;
  size_t pos = 0;
  while (pos < scope.size()) {
    size_t end = scope.find(' ', pos);
    if (end == std::string_view::npos) end = scope.size();
    std::string_view s = scope.substr(pos, end - pos);
    pos = end + 1;
    if (s.empty()) continue;
    if (++count > 50) return Invalid("The request asks for more than 50 scopes.");
    if (s.size() > 256) return Invalid("A scope is longer than 256 characters.");
    if (s == "openid") {
      out.openid = true;
      continue;
    }
    if (s == "profile" || s == "email" || s == "offline_access") {
      (s == "profile" ? out.profile : s == "email" ? out.email : out.offline_access) = true;
      continue;
    }
    // "<resource>/<permission>": the resource is everything before the last slash. A resource
    // written with a trailing slash gives "<resource>//.default", which Entra accepts too.
    std::string_view resource, permission = s;
    if (size_t slash = s.rfind('/'); slash != std::string_view::npos) {
      resource = s.substr(0, slash);
      permission = s.substr(slash + 1);
      if (resource.size() > 1 && resource.back() == '/' && permission == ".default") {
        resource.remove_suffix(1);
      }
    }
    if (resource.empty()) resource = graph.uri;  // a bare name is Graph's
    if (resource != graph.uri && !EqualsIgnoreCase(resource, graph.app_id)) {
      return Invalid("The scope '" + std::string(s) +
                     "' names a resource this deployment does not serve; only " + graph.uri +
                     " is served.");
    }
    if (!out.resource.empty() && out.resource != graph.uri) {
      return Invalid("The scopes name more than one resource.");
    }
    out.resource = graph.uri;
    if (permission == ".default") {
      out.default_scope = true;
    } else if (IsGraphPermission(permission)) {
      out.permissions.emplace_back(permission);
    } else {
      return Invalid("The scope '" + std::string(s) + "' is not a permission of " + graph.uri +
                     ".");
    }
    if (out.default_scope && !out.permissions.empty()) {
      return Invalid("'" + graph.uri + "/.default' cannot be combined with other permissions of "
                     "the resource.");
    }
  }
  return out;
}

}  // namespace meridian::auth
