// Validation of a client's create or PATCH body against a type's schema: unknown properties (at
// any depth), read-only ones, wrong JSON types, bad enumeration values, values and collections
// over their bounds, duplicate ids within a collection, oversized records and missing required
// properties are refused with Graph's messages. Type-specific rules (UPN domains, passwords, group
// kinds) live in directory.cc, where the tenant's state is at hand. Also: the set of mail
// addresses an object claims, for their uniqueness per tenant.
//
// Everything here is a pure function of its arguments: safe to call from any thread.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "common/status.h"
#include "directory/schema.h"

namespace meridian::directory {

// The bound on one object's Graph properties (its `data`), serialized as JSON, and on a create or
// PATCH body. 128 KiB holds the largest application Entra's documented limits let clients
// build in practice (256 redirect URIs of 256 characters alone take 66 KB, and certificates
// about 2 KB each) and refuses the megabytes a buggy or hostile client can send.
inline constexpr size_t kMaxRecordBytes = 128 * 1024;

// Copies the body's properties into `data` under their schema names, on top of what `data`
// already holds (the stored object, for a PATCH). A JSON null removes the property. Complex
// values are checked member by member (ValidateValue) and stored as ValidateValue returns them.
// Fails with Request_BadRequest on the first rule broken, leaving `data` partly updated (callers
// discard it), and when the body or the resulting `data` is larger than kMaxRecordBytes.
Status ApplyBody(const TypeSchema& type, const boost::json::object& body, bool create,
                 boost::json::object* data);

// Checks `value` (not null) against `property` and its nested types, and returns it as it is
// stored: members under their declared names, enumeration values spelled as declared,
// "@odata.type" annotations dropped. Fails with Request_BadRequest, naming the member as in
// "api.oauth2PermissionScopes.value", for an undeclared member, a wrong JSON type, a string or
// collection over its bound, a value outside its enumeration or range, a value its StringCheck
// refuses, a missing required member, a null collection or required member, and a duplicate among
// the elements of a collection of a member marked kUniqueInCollection (appRole ids, scope values).
Result<boost::json::value> ValidateValue(const Property& property, const boost::json::value& value);

// Fails with Request_BadRequest, saying the limit, when `data` serialized as JSON is larger than
// kMaxRecordBytes. For the directory to call on the final record of every write, since some
// writes (credentials, server-set properties) do not go through ApplyBody.
Status CheckRecordSize(const boost::json::object& data);

// The SMTP addresses an object of `type` claims, lower-cased, for the per-tenant uniqueness of
// mail and proxy addresses across users and groups: a user's userPrincipalName, mail and
// proxyAddresses; a group's mail and proxyAddresses. A proxy address loses its "smtp:" prefix (any
// case); one of another kind ("SIP:", "X500:", ...) is not an SMTP address and is left out.
// otherMails are not claimed: they are the user's addresses elsewhere, not the tenant's. Empty for
// other types.
std::set<std::string> Addresses(std::string_view type, const boost::json::object& data);

// Fails when a property marked kRequired is missing from `data`.
Status CheckRequired(const TypeSchema& type, const boost::json::object& data);

}  // namespace meridian::directory
