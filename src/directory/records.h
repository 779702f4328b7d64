// The stored form of a directory object and the reads every part of the directory shares.
//
// A record is JSON: {"v": <LSN of last change>, "d": {<Graph properties>}, "s": {<secrets:
// hashes, never returned>}}. The ETag of an object is derived from "v".
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "meridian/op.pb.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {

// How long a client secret is valid (Entra's default: 2 years).
inline constexpr int64_t kClientSecretLifetimeMs = 2LL * 365 * 24 * 3600 * 1000;

// One stored directory object.
struct Object {
  std::string type;
  std::string id;
  uint64_t version = 0;        // LSN of the last change; the ETag is derived from it
  boost::json::object data;    // Graph properties
  boost::json::object secret;  // never leaves the directory module
  std::string ETag() const;
};

// Internal error ("corrupt <what>") unless `raw` is a JSON object.
Result<boost::json::object> ParseObject(std::string_view raw, std::string_view what);
Result<Object> DecodeObject(std::string_view type, std::string_view raw);
std::string EncodeRecord(const Object& o);

// The members of `after` that differ from `before`'s, and null for each member `after` lacks.
boost::json::object DiffMembers(const boost::json::object& before,
                                const boost::json::object& after);

// Fills `put` with the creation of `o` (its whole record) under `activity` (the audit name).
// Fills `op` with the put of `o`, once its Graph properties are within the record bound: the
// whole record for a create, what changed since `before` for an update.
Status SetPut(proto::Op* op, std::string_view type, const Object& o, const Object* before,
              std::string activity);

void SetCreate(proto::PutObject* put, std::string_view type, const Object& o,
               std::string_view activity);

// What turns `before` into `after`: {"d": {...}, "s": {...}} with the members that differ, and
// null for each member removed. ApplyPatch(before record, patch) gives `after`'s record.
boost::json::object MakePatch(const Object& before, const Object& after);
// Applies a MakePatch patch to a stored record (its "d" and "s" members). InvalidArgument when
// the patch is not of that shape.
Status ApplyPatch(const boost::json::object& patch, boost::json::object* record);

// Graph's NotFound for an id.
Status ObjectNotFound(std::string_view id);

// Reads object `id` of `type`; NotFound when absent, Internal when corrupt or on I/O failure.
Result<Object> ReadObject(const store::ReadView& view, const store::TenantKeys& keys,
                          std::string_view type, std::string_view id);

// The type of object `id`, or nullopt when there is none.
Result<std::optional<std::string>> ReadKind(const store::ReadView& view,
                                            const store::TenantKeys& keys, std::string_view id);

// The id of the application or service principal (`type`) whose appId is `app_id`, or nullopt.
Result<std::optional<std::string>> IdByAppId(const store::ReadView& view,
                                             const store::TenantKeys& keys, std::string_view type,
                                             std::string_view app_id);

// The string member `key` of `o`, or "" when absent or not a string.
std::string Str(const boost::json::object& o, std::string_view key);
// The boolean member `key` of `o`, or `otherwise` when absent or not a boolean.
bool Bool(const boost::json::object& o, std::string_view key, bool otherwise);
// The integer member `key` of `o`, or 0 when absent or not an integer.
int64_t Int(const boost::json::object& o, std::string_view key);
// The strings of the array member `key` of `o` (other elements skipped; empty when absent), and
// the array of `strings`.
std::vector<std::string> Strings(const boost::json::object& o, std::string_view key);
boost::json::array StringArray(const std::vector<std::string>& strings);

}  // namespace meridian::directory
