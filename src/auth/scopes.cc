#include "auth/scopes.h"

#include <algorithm>

#include "common/encoding.h"

namespace meridian::auth {

namespace {

// Graph's delegated permissions for the objects this directory holds (names as Graph spells
// them); the Graph API decides what each caller may do from the user's roles.
// Graph's delegated permissions served here; those of every user's data (".All", but for the
// basic profiles) need an administrator's consent, as in Graph.
constexpr GraphPermission kGraphPermissions[] = {
    {"User.Read", "Sign you in and read your profile", false},
    {"User.ReadBasic.All", "Read the basic profiles of all users", false},
    {"User.Read.All", "Read the full profiles of all users", true},
    {"User.ReadWrite", "Read and update your profile", false},
    {"User.ReadWrite.All", "Read and write the full profiles of all users", true},
    {"Group.Read.All", "Read all groups", true},
    {"Group.ReadWrite.All", "Read and write all groups", true},
    {"GroupMember.Read.All", "Read the memberships of all groups", true},
    {"Application.Read.All", "Read all applications", true},
    {"Application.ReadWrite.All", "Read and write all applications", true},
    {"Directory.Read.All", "Read the directory", true},
    {"Directory.ReadWrite.All", "Read and write the directory", true},
    {"Directory.AccessAsUser.All", "Access the directory as you", true},
    {"AuditLog.Read.All", "Read the audit and sign-in logs", true},
    {"RoleManagement.Read.Directory", "Read the directory's role assignments", true},
    {"UserAuthenticationMethod.ReadWrite.All",
     "Read and write the authentication methods of all users", true},
};

Status Invalid(std::string why) {
  return Status(Code::kInvalidArgument, std::move(why), "invalid_scope");
}

}  // namespace

const GraphPermission* FindGraphPermission(std::string_view name) {
  for (const GraphPermission& p : kGraphPermissions) {
    if (EqualsIgnoreCase(p.name, name)) return &p;
  }
  return nullptr;
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

std::vector<std::string> ScopeRequest::Requested() const {
  if (default_scope) return {};
  if (permissions.empty()) return {"User.Read"};
  return permissions;
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
    } else if (const GraphPermission* p = FindGraphPermission(permission)) {
      out.permissions.emplace_back(p->name);
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
