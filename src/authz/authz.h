// authz: who may do what to whom in a tenant. A pure decision on three facts: the caller (its
// kind and the directory roles it holds), the action, and the target (its type and the roles it
// holds). The directory gathers those facts under the partition's write lock, from the same view
// that the write builds from, and enforces the answer; nothing here reads the store, so the rules
// are unit-tested on their own (authz_test.cc).
//
// The rules follow Entra ID's built-in roles, stricter where Entra lets a narrower administrator
// climb: an administrator acts on a principal only when every role that principal holds is within
// the administrator's reach, so a User Administrator cannot reset a Global Administrator's
// password and an Application Administrator cannot add a secret to an application whose service
// principal holds any role. Role-assignable groups are changed only by Privileged Role and Global
// Administrators. App-only callers need a directory role to read (as Graph needs an app
// permission); users read the directory as members do by default.
//
// Stateless functions; thread-safe.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::authz {

// Built-in directory role template ids (the same GUIDs as Entra ID's).
inline constexpr std::string_view kGlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10";
inline constexpr std::string_view kUserAdministrator = "fe930be7-5e62-47db-91af-98c3a49a38b1";
inline constexpr std::string_view kGroupsAdministrator = "fdd7a751-b60b-444a-984c-02652fe8fa1c";
inline constexpr std::string_view kApplicationAdministrator =
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3";
inline constexpr std::string_view kPrivilegedRoleAdministrator =
    "e8611ab8-c189-46e8-94e1-60213ab1f814";
inline constexpr std::string_view kGlobalReader = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
inline constexpr std::string_view kDirectoryReaders = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b";

enum class Action {
  kRead,               // read objects of the target's type
  kReadAudit,          // read the tenant's audit log
  kCreate,             // create an object of the target's type
  kUpdate,             // change an object's properties
  kDelete,             // delete an object
  kResetPassword,      // set a user's password
  kManageCredentials,  // add or remove an application's secrets or keys
  kManageMembers,      // add or remove a group's members
  kManageOwners,       // add or remove an object's owners
};

std::string_view ActionName(Action a);

struct Caller {
  enum class Kind { kUser, kServicePrincipal, kOperator, kTokenService };
  Kind kind = Kind::kUser;
  // Template ids of the enabled roles the caller holds, directly or through role-assignable
  // groups. Must be complete: the directory never truncates this set.
  std::set<std::string> roles;
  // A guest user (userType Guest): reads only with a role, as Entra restricts guests.
  bool guest = false;
};

struct Target {
  std::string type;  // "user", "group", "application", "servicePrincipal", "roleAssignment", ...
  // Template ids of every role the target holds (for an application: its service principal's;
  // for a group: the roles assigned to the group), whether the role is enabled or not.
  std::set<std::string> roles;
  // A group created with isAssignableToRole (or a create or change that would make one).
  bool role_assignable_group = false;
  // A principal that is a member of a role-assignable group, whether the group holds a role yet
  // or not: only Global and Privileged Role Administrators act on it.
  bool in_role_assignable_group = false;
};

// Ok when `caller` may perform `action` on `target`; PermissionDenied (Graph code
// Authorization_RequestDenied) with a message that names what is missing otherwise.
Status Decide(const Caller& caller, Action action, const Target& target);

}  // namespace meridian::authz
