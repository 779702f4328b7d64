// The directory's object types and their properties, with Microsoft Graph's names. The schema
// drives validation of writes, which properties are indexed (and so filterable and sortable
// without a scan), which are unique per tenant, and which the server alone sets. Complex
// properties (an application's `api`, a user's `passwordProfile`) declare their members in the
// same way, down to every nested type, with Graph v1.0's names, value sets and bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::directory {

// Bounds of a property that does not declare its own.
inline constexpr size_t kDefaultMaxLength = 1024;  // characters of a string
inline constexpr size_t kDefaultMaxCount = 256;    // elements of a collection

enum class PropType {
  kString,
  kBool,
  kDateTime,
  kGuid,
  kInt,
  kStringCollection,
  kObject,            // a nested complex value, stored as given after validation
  kObjectCollection,  // a list of complex values
};

enum PropFlag : unsigned {
  kNone = 0,
  kIndexed = 1,        // has an index: filterable (eq, in, startswith, ranges) and sortable
  kUnique = 2,         // unique per tenant (case-insensitive); implies kIndexed
  kReadOnly = 4,       // set by the server; a client that sends it gets 400
  kRequired = 8,       // must be present on create
  kWriteOnly = 16,     // accepted on write, never returned (passwordProfile)
  kImmutable = 32,     // settable on create, not by PATCH
  // On a member of a complex type held in a collection: no two elements of that collection have
  // the same value (compared case-insensitively); null and absent values are not compared.
  kUniqueInCollection = 64,
};

struct ComplexType;

// A rule on one string value beyond its type and length (an address's shape, a URI's scheme),
// applied to a string property and to every element of a string collection. `path` names the
// property in the message ("web.redirectUris"). Returns InvalidArgument (Request_BadRequest).
using StringCheck = Status (*)(std::string_view path, std::string_view value);

struct Property {
  std::string_view name;
  PropType type;
  unsigned flags = kNone;
  // For enumerations (a string, or every element of a string collection): the allowed values,
  // matched case-insensitively and stored as spelled here.
  std::vector<std::string_view> allowed = {};
  size_t max_length = 0;  // characters of a string or of each element; 0: kDefaultMaxLength
  size_t max_count = 0;   // elements of a collection; 0: kDefaultMaxCount
  const ComplexType* complex = nullptr;  // kObject, kObjectCollection: the members
  StringCheck check = nullptr;
  int64_t min_value = std::numeric_limits<int32_t>::min();  // kInt
  int64_t max_value = std::numeric_limits<int32_t>::max();

  bool indexed() const { return flags & (kIndexed | kUnique); }
  bool unique() const { return flags & kUnique; }
  bool read_only() const { return flags & kReadOnly; }
  bool required() const { return flags & kRequired; }
  bool collection() const {
    return type == PropType::kStringCollection || type == PropType::kObjectCollection;
  }
  size_t length_limit() const { return max_length ? max_length : kDefaultMaxLength; }
  size_t count_limit() const { return max_count ? max_count : kDefaultMaxCount; }
};

// A complex type of Graph (apiApplication, appRole, passwordProfile, ...): a value with members
// and no identity of its own. A member not declared here is refused.
struct ComplexType {
  std::string_view name;  // with its namespace: "microsoft.graph.apiApplication"
  std::vector<Property> members;

  const Property* Find(std::string_view name) const;  // case-insensitive; nullptr if none
};

struct TypeSchema {
  std::string_view type;        // store name: "user"
  std::string_view collection;  // URL segment under /v1.0: "users"
  std::string_view odata_type;  // "#microsoft.graph.user"
  std::string_view audit_category;
  std::vector<Property> properties;

  const Property* Find(std::string_view name) const;
  // The type's name without its namespace: "user" for "#microsoft.graph.user".
  std::string_view name() const { return odata_type.substr(odata_type.rfind('.') + 1); }
};

// nullptr when there is no such type / collection.
const TypeSchema* FindType(std::string_view type);
const TypeSchema* FindCollection(std::string_view collection);
const std::vector<const TypeSchema*>& AllTypes();

}  // namespace meridian::directory
