// The directory's object types and their properties, with Microsoft Graph's names. The schema
// drives validation of writes, which properties are indexed (and so filterable and sortable
// without a scan), which are unique per tenant, and which the server alone sets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meridian::directory {

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
};

struct Property {
  std::string_view name;
  PropType type;
  unsigned flags = kNone;
  std::vector<std::string_view> allowed = {};  // for enumerations: the allowed values

  bool indexed() const { return flags & (kIndexed | kUnique); }
  bool unique() const { return flags & kUnique; }
  bool read_only() const { return flags & kReadOnly; }
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
