// Role resolution: which directory roles a principal holds, and whether a change would leave a
// tenant without a Global Administrator. Both are answered from indexes (role assignments by
// principal and by role, and the "m/" index of memberships in role-assignable groups), never by
// scanning objects, and neither truncates: a result is complete or an error.
//
// Roles reach a principal directly or through a role-assignable group it is a direct member of;
// such groups cannot contain groups (as in Entra ID), so there is no nesting to follow.
//
// Functions of a view; thread-safe as far as the view is.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {

// The ids of the role assignments whose `prop` ("principalId", "roleDefinitionId") is `value`,
// from the assignment index. A principal has at most one per role definition.
Result<std::vector<std::string>> RoleAssignmentsBy(const store::ReadView& view,
                                                   const store::TenantKeys& keys,
                                                   std::string_view prop, std::string_view value);

// Template ids of the roles `principal` (a user, service principal or group) holds. With
// `enabled_only`, roles whose definition is disabled are left out: use that for what a caller
// may do, and every role for what protects a target. Internal when an assignment names a role
// definition that does not exist.
Result<std::set<std::string>> RolesOf(const store::ReadView& view, const store::TenantKeys& keys,
                                      std::string_view principal, bool enabled_only);

// What a write takes away; empty fields take nothing.
struct RoleLoss {
  std::string principal;          // deleted or disabled user or service principal
  std::string assignment;         // deleted role assignment
  std::string group;              // deleted group
  std::string member_of, member;  // `member` removed from group `member_of`
};

// Ok when, after `loss`, some enabled user or service principal still holds Global
// Administrator; otherwise refuses (400) so that no tenant is left without a way back.
Status EnsureGlobalAdministratorRemains(const store::ReadView& view, const store::TenantKeys& keys,
                                        const RoleLoss& loss);

}  // namespace meridian::directory
