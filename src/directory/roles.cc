#include "directory/roles.h"

#include <vector>

#include "authz/authz.h"
#include "directory/records.h"

namespace meridian::directory {

Result<std::vector<std::string>> RoleAssignmentsBy(const store::ReadView& view,
                                                   const store::TenantKeys& keys,
                                                   std::string_view prop, std::string_view value) {
  std::vector<std::string> out;
  std::string prefix = keys.IndexPrefix("roleAssignment", prop) + store::EncodeIndexValue(value);
  MERIDIAN_RETURN_IF_ERROR(
      view.Scan(prefix, store::PrefixEnd(prefix), false, [&](std::string_view k, std::string_view) {
        out.emplace_back(k.substr(prefix.size()));
        return true;
      }));
  return out;
}

namespace {

Status AddRolesAssignedTo(const store::ReadView& view, const store::TenantKeys& keys,
                          std::string_view principal, bool enabled_only,
                          std::set<std::string>* roles) {
  MERIDIAN_ASSIGN_OR_RETURN(auto assignments,
                            RoleAssignmentsBy(view, keys, "principalId", principal));
  for (const std::string& id : assignments) {
    MERIDIAN_ASSIGN_OR_RETURN(Object ra, ReadObject(view, keys, "roleAssignment", id));
    std::string def = Str(ra.data, "roleDefinitionId");
    auto rd = ReadObject(view, keys, "roleDefinition", def);
    if (!rd.ok()) {
      return Internal("role assignment " + id + " names role definition '" + def +
                      "', which cannot be read: " + rd.status().message());
    }
    if (enabled_only && !Bool(rd->data, "isEnabled", false)) continue;
    roles->insert(Str(rd->data, "templateId"));
  }
  return Status::Ok();
}

Result<bool> Enabled(const store::ReadView& view, const store::TenantKeys& keys,
                     std::string_view type, std::string_view id) {
  MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, type, id));
  return Bool(o.data, "accountEnabled", true);
}

}  // namespace

Result<std::set<std::string>> RolesOf(const store::ReadView& view, const store::TenantKeys& keys,
                                      std::string_view principal, bool enabled_only) {
  std::set<std::string> roles;
  MERIDIAN_RETURN_IF_ERROR(AddRolesAssignedTo(view, keys, principal, enabled_only, &roles));
  std::vector<std::string> groups;
  std::string prefix = keys.RoleGroupMembershipPrefix(principal);
  MERIDIAN_RETURN_IF_ERROR(
      view.Scan(prefix, store::PrefixEnd(prefix), false, [&](std::string_view k, std::string_view) {
        groups.emplace_back(k.substr(prefix.size()));
        return true;
      }));
  for (const std::string& g : groups) {
    MERIDIAN_RETURN_IF_ERROR(AddRolesAssignedTo(view, keys, g, enabled_only, &roles));
  }
  return roles;
}

Status EnsureGlobalAdministratorRemains(const store::ReadView& view, const store::TenantKeys& keys,
                                        const RoleLoss& loss) {
  // The Global Administrator definition's id is its template id (built-in roles keep theirs).
  MERIDIAN_ASSIGN_OR_RETURN(auto assignments, RoleAssignmentsBy(view, keys, "roleDefinitionId",
                                                                authz::kGlobalAdministrator));
  for (const std::string& id : assignments) {
    if (id == loss.assignment) continue;
    MERIDIAN_ASSIGN_OR_RETURN(Object ra, ReadObject(view, keys, "roleAssignment", id));
    std::string principal = Str(ra.data, "principalId");
    if (principal == loss.principal || principal == loss.group) continue;
    MERIDIAN_ASSIGN_OR_RETURN(auto kind, ReadKind(view, keys, principal));
    if (!kind) return Internal("role assignment " + id + " names a missing principal");
    if (*kind != "group") {
      MERIDIAN_ASSIGN_OR_RETURN(bool enabled, Enabled(view, keys, *kind, principal));
      if (enabled) return Status::Ok();
      continue;
    }
    // Through a role-assignable group: any enabled member that stays. The first one found ends
    // the search; it is a proof, not a sample.
    std::vector<std::pair<std::string, std::string>> members;
    std::string prefix = keys.LinkPrefix("members", principal);
    Status err;
    bool found = false;
    MERIDIAN_RETURN_IF_ERROR(view.Scan(
        prefix, store::PrefixEnd(prefix), false, [&](std::string_view k, std::string_view type) {
          std::string member(k.substr(prefix.size()));
          if (member == loss.principal || (principal == loss.member_of && member == loss.member)) {
            return true;
          }
          auto enabled = Enabled(view, keys, type, member);
          if (!enabled.ok()) {
            err = enabled.status();
            return false;
          }
          found = *enabled;
          return !found;
        }));
    MERIDIAN_RETURN_IF_ERROR(err);
    if (found) return Status::Ok();
  }
  return InvalidArgument(
      "This change would leave the tenant without an enabled Global Administrator. Assign the "
      "role to another principal first.",
      "Request_BadRequest");
}

}  // namespace meridian::directory
