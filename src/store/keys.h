// TenantKeys: the only place that builds the keys of a tenant's data. Every key begins with
// "T" <tenant id> "/", so a TenantKeys made for one tenant cannot name another tenant's data;
// the directory makes one only from the tenant of the caller's security context.
//
// Layout under a tenant's prefix:
//   "org"                                   organization record
//   "o/" type "/" id                        object record (JSON)
//   "x/" type "/" prop "/" value* id        index entry (value escaped, see EncodeIndexValue)
//   "u/" type "/" prop "/" value*           unique-value claim -> id ("u/*/address/..." for
//                                           SMTP addresses, unique across types)
//   "l/" relation "/" source "/" target     link (group members, owners)
//   "r/" relation "/" target "/" source     reverse link (memberOf)
//   "m/" principal "/" group                 principal is a member of role-assignable group
//   "i/" id                                 the type of object `id`
//   "c/" type                               object count, 8 bytes big-endian
//   "a/" lsn                                audit record of the op with that LSN
//   "g/" kind "/" handle                    sign-in state (directory/grants.h)
//   "s/t/" time id                          sign-in log record (time: 8 bytes big-endian ms)
//   "s/u/" user "/" time id, "s/a/" app "/" time id   its indexes by user and by app (empty)
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::store {

// Escapes a value so that byte order of encoded keys is the order of the values and no value is
// a prefix of another's encoding: 0x00 becomes 00 FF and the value ends with 00 01.
std::string EncodeIndexValue(std::string_view value);
// The encoding of `value` without its terminator, for prefix (startswith) ranges.
std::string EncodeIndexPrefix(std::string_view value);
// The smallest key greater than every key that starts with `prefix`.
std::string PrefixEnd(std::string_view prefix);

// Tenant isolation rests on these: a tenant's keys are exactly the keys that start with its
// prefix, and two tenants' prefixes are disjoint because a tenant id never contains '/'.
//
// Ok for a non-empty tenant id without '/'; InvalidArgument otherwise (an id with '/' would
// name a key space inside another tenant's: "Ta/b/" lies under "Ta/").
Status ValidateTenantId(std::string_view tenant_id);
// True when `key` starts with `prefix`.
bool KeyInPrefix(std::string_view prefix, std::string_view key);
// True when every key of the range [begin, end) starts with `prefix`: begin >= prefix and
// end <= PrefixEnd(prefix). A range that starts inside and ends outside is not inside.
bool RangeInPrefix(std::string_view prefix, std::string_view begin, std::string_view end);
// `key` for an error message: printable ASCII as is, other bytes as \xNN.
std::string PrintableKey(std::string_view key);

class TenantKeys {
 public:
  explicit TenantKeys(std::string_view tenant_id);

  const std::string& prefix() const { return prefix_; }
  std::string Organization() const;
  std::string Object(std::string_view type, std::string_view id) const;
  std::string ObjectPrefix(std::string_view type) const;
  std::string IndexPrefix(std::string_view type, std::string_view prop) const;
  std::string Index(std::string_view type, std::string_view prop, std::string_view value,
                    std::string_view id) const;
  std::string Unique(std::string_view type, std::string_view prop, std::string_view value) const;
  std::string Link(std::string_view relation, std::string_view source,
                   std::string_view target) const;
  std::string LinkPrefix(std::string_view relation, std::string_view source) const;
  std::string ReverseLink(std::string_view relation, std::string_view target,
                          std::string_view source) const;
  std::string ReverseLinkPrefix(std::string_view relation, std::string_view target) const;
  // Memberships in role-assignable groups, by member: what role resolution reads.
  std::string RoleGroupMembership(std::string_view principal, std::string_view group) const;
  std::string RoleGroupMembershipPrefix(std::string_view principal) const;
  std::string Kind(std::string_view id) const;  // id -> its type, for directoryObjects
  std::string Counter(std::string_view type) const;
  // The audit record of the op with `lsn`; `seq` numbers further records of the same op (the
  // deletes of a cascade): seq 0 is the op's own record.
  std::string Audit(uint64_t lsn, uint16_t seq = 0) const;
  std::string AuditPrefix() const;
  // The sign-in log: a record, and the prefixes of the log and of its indexes. Every prefix is
  // followed by the same 8-byte time and id; `user` and `app` must not contain '/'.
  std::string SignIn(int64_t time_ms, std::string_view id) const;
  std::string SignInPrefix() const;
  std::string SignInByUserPrefix(std::string_view user) const;
  std::string SignInByAppPrefix(std::string_view app) const;
  // A grant (directory/grants.h); `kind` and `handle` must not contain '/'.
  std::string Grant(std::string_view kind, std::string_view handle) const;

 private:
  std::string Join(std::initializer_list<std::string_view> parts) const;
  std::string prefix_;
};

}  // namespace meridian::store
