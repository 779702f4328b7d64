#include "graph/delegated.h"

#include <vector>

#include "common/encoding.h"

namespace meridian::graph {
namespace {

struct Allowed {
  std::vector<std::string_view> any;  // allow the area
  std::vector<std::string_view> own;  // allow it on the caller's own user only
};

// The least-privileged scopes Graph documents for each area, and the wider ones that include
// them. Directory.AccessAsUser.All allows whatever the user may do.
Allowed For(Area area, bool write) {
  switch (area) {
    case Area::kMe:
    case Area::kUsers:
      if (write) {
        return {{"User.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
                {"User.ReadWrite"}};
      }
      return {{"User.ReadBasic.All", "User.Read.All", "User.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
              {"User.Read", "User.ReadWrite"}};
    case Area::kGroups:
      if (write) {
        return {{"Group.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
                {}};
      }
      return {{"Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All",
               "Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
              {}};
    case Area::kApplications:
      if (write) return {{"Application.ReadWrite.All", "Directory.AccessAsUser.All"}, {}};
      return {{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All",
               "Directory.ReadWrite.All", "Directory.AccessAsUser.All"},
              {}};
    case Area::kRoles:
    case Area::kPermissionGrants:
      if (write) return {{"Directory.AccessAsUser.All"}, {}};
      return {{"RoleManagement.Read.Directory", "Directory.Read.All", "Directory.ReadWrite.All",
               "Directory.AccessAsUser.All"},
              {}};
    case Area::kOrganization:
      if (write) return {{"Directory.AccessAsUser.All"}, {}};
      return {{"User.Read", "Directory.Read.All", "Directory.ReadWrite.All",
               "Directory.AccessAsUser.All"},
              {}};
    case Area::kDirectoryObjects:
      if (write) return {{"Directory.AccessAsUser.All"}, {}};
      return {{"Directory.Read.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All"}, {}};
    case Area::kAuditLogs:
      if (write) return {};
      return {{"AuditLog.Read.All", "Directory.Read.All", "Directory.AccessAsUser.All"}, {}};
    case Area::kAuthenticationMethods:
      return {{"UserAuthenticationMethod.ReadWrite.All", "Directory.AccessAsUser.All"}, {}};
  }
  return {};
}

}  // namespace

Result<Area> AreaOf(std::string_view pattern) {
  constexpr std::string_view kV1 = "/v1.0/";
  if (!StartsWith(pattern, kV1)) return Internal("no delegated area for " + std::string(pattern));
  std::string_view p = pattern.substr(kV1.size());
  if (p.find("/authentication/") != std::string_view::npos) return Area::kAuthenticationMethods;
  struct Prefix {
    std::string_view prefix;
    Area area;
  };
  static constexpr Prefix kPrefixes[] = {
      {"me", Area::kMe},
      {"users", Area::kUsers},
      {"groups", Area::kGroups},
      {"applications", Area::kApplications},
      {"servicePrincipals", Area::kApplications},
      {"roleManagement/", Area::kRoles},
      {"oauth2PermissionGrants", Area::kPermissionGrants},
      {"organization", Area::kOrganization},
      {"domains", Area::kDirectoryObjects},
      {"directoryObjects", Area::kDirectoryObjects},
      {"auditLogs/", Area::kAuditLogs},
  };
  for (const Prefix& x : kPrefixes) {
    if (!StartsWith(p, x.prefix)) continue;
    std::string_view rest = p.substr(x.prefix.size());
    if (x.prefix.back() == '/' || rest.empty() || rest.front() == '/') return x.area;
  }
  return Internal("no delegated area for " + std::string(pattern));
}

Status AllowDelegated(Area area, bool write, bool own, const std::set<std::string>& scopes) {
  Allowed allowed = For(area, write);
  for (std::string_view s : allowed.any) {
    if (scopes.count(std::string(s))) return Status::Ok();
  }
  if (own || area == Area::kMe) {
    for (std::string_view s : allowed.own) {
      if (scopes.count(std::string(s))) return Status::Ok();
    }
  }
  std::string names;
  for (std::string_view s : allowed.any) names += (names.empty() ? "" : ", ") + std::string(s);
  return Status(Code::kPermissionDenied,
                "The token's delegated permissions (scp) do not allow this request; it needs one "
                "of: " +
                    (names.empty() ? std::string("none exists") : names) + ".",
                "Authorization_RequestDenied");
}

}  // namespace meridian::graph
