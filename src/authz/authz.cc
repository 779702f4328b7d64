#include "authz/authz.h"

#include <vector>

namespace meridian::authz {
namespace {

using Roles = std::vector<std::string_view>;

bool HoldsAny(const Caller& c, const Roles& roles) {
  for (std::string_view r : roles) {
    if (c.roles.count(std::string(r))) return true;
  }
  return false;
}

// The administrator roles that may perform writes on objects of `type`.
Roles WritersOf(std::string_view type) {
  if (type == "user") return {kGlobalAdministrator, kUserAdministrator};
  if (type == "group") return {kGlobalAdministrator, kUserAdministrator, kGroupsAdministrator};
  if (type == "application" || type == "servicePrincipal") {
    return {kGlobalAdministrator, kApplicationAdministrator};
  }
  // A permission grant lets a client act as users on an API (the Graph API's included): only the
  // roles that may grant roles may grant it, as Entra requires for consent to Graph permissions.
  if (type == "roleDefinition" || type == "roleAssignment" || type == "oauth2PermissionGrant") {
    return {kGlobalAdministrator, kPrivilegedRoleAdministrator};
  }
  return {kGlobalAdministrator};
}

// Whether one of the caller's roles reaches `role` held by a target: Global and Privileged Role
// Administrators reach every role (the latter can assign any role, itself included); a User
// Administrator reaches only roles no wider than its own; every other role reaches none.
bool Reaches(const Caller& c, const std::string& role) {
  if (HoldsAny(c, {kGlobalAdministrator, kPrivilegedRoleAdministrator})) return true;
  if (HoldsAny(c, {kUserAdministrator})) {
    return role == kDirectoryReaders || role == kGroupsAdministrator || role == kUserAdministrator;
  }
  return false;
}

Status Deny(std::string why) {
  return Status(Code::kPermissionDenied,
                "Insufficient privileges to complete the operation: " + why,
                "Authorization_RequestDenied");
}

}  // namespace

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kRead:
      return "read";
    case Action::kReadAudit:
      return "read audit logs";
    case Action::kCreate:
      return "create";
    case Action::kUpdate:
      return "update";
    case Action::kDelete:
      return "delete";
    case Action::kResetPassword:
      return "reset the password of";
    case Action::kManageCredentials:
      return "manage the credentials of";
    case Action::kManageMembers:
      return "manage the members of";
    case Action::kManageOwners:
      return "manage the owners of";
  }
  return "?";
}

Status Decide(const Caller& caller, Action action, const Target& target) {
  if (caller.kind == Caller::Kind::kOperator) return Status::Ok();
  bool write = action != Action::kRead && action != Action::kReadAudit;
  if (caller.kind == Caller::Kind::kTokenService) {
    if (write) return Deny("the token service never writes.");
    return Status::Ok();
  }
  if (action == Action::kReadAudit) {
    if (HoldsAny(caller, {kGlobalAdministrator, kGlobalReader})) return Status::Ok();
    return Deny("reading audit logs needs Global Administrator or Global Reader.");
  }
  if (action == Action::kRead) {
    // Member users read the directory by default; guests and applications need a role.
    if (caller.kind == Caller::Kind::kUser && !caller.guest) return Status::Ok();
    if (HoldsAny(caller,
                 {kGlobalAdministrator, kGlobalReader, kDirectoryReaders, kUserAdministrator,
                  kGroupsAdministrator, kApplicationAdministrator, kPrivilegedRoleAdministrator})) {
      return Status::Ok();
    }
    return Deny(
        "an application or guest needs a directory role (Directory Readers or wider) to "
        "read.");
  }

  std::string what = std::string(ActionName(action)) + " " + target.type + " objects";
  if (target.type == "group" && target.role_assignable_group) {
    // Who is in such a group decides who holds its roles.
    if (!HoldsAny(caller, {kGlobalAdministrator, kPrivilegedRoleAdministrator})) {
      return Deny("only Global and Privileged Role Administrators change role-assignable groups.");
    }
  } else if (!HoldsAny(caller, WritersOf(target.type))) {
    return Deny("the caller has no role that may " + what + ".");
  }
  if (target.in_role_assignable_group &&
      !HoldsAny(caller, {kGlobalAdministrator, kPrivilegedRoleAdministrator})) {
    return Deny("the target is a member of a role-assignable group.");
  }
  for (const std::string& role : target.roles) {
    if (!Reaches(caller, role)) {
      return Deny("the target holds a directory role (" + role +
                  ") beyond the reach of the caller's roles.");
    }
  }
  return Status::Ok();
}

}  // namespace meridian::authz
