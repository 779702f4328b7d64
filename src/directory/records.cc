#include "directory/records.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/objects.h"

namespace meridian::directory {
namespace json = boost::json;

std::string Object::ETag() const { return "W/\"" + std::to_string(version) + "\""; }

Result<json::object> ParseObject(std::string_view raw, std::string_view what) {
  boost::system::error_code ec;
  json::value v = json::parse(raw, ec);
  if (ec || !v.is_object()) return Internal("corrupt " + std::string(what));
  return std::move(v.get_object());
}

Result<Object> DecodeObject(std::string_view type, std::string_view raw) {
  MERIDIAN_ASSIGN_OR_RETURN(json::object record, ParseObject(raw, "object record"));
  Object o;
  o.type = std::string(type);
  if (auto* v = record.if_contains("v"); v && v->is_uint64()) o.version = v->get_uint64();
  if (auto* v = record.if_contains("v"); v && v->is_int64()) o.version = v->get_int64();
  if (auto* d = record.if_contains("d"); d && d->is_object()) o.data = std::move(d->get_object());
  if (auto* s = record.if_contains("s"); s && s->is_object()) o.secret = std::move(s->get_object());
  if (auto* id = o.data.if_contains("id"); id && id->is_string()) o.id = id->get_string();
  return o;
}

std::string EncodeRecord(const Object& o) {
  json::object record{{"d", o.data}, {"s", o.secret}};
  return json::serialize(record);
}

Status SetPut(proto::Op* op, std::string_view type, const Object& o, const Object* before,
              std::string activity) {
  MERIDIAN_RETURN_IF_ERROR(CheckRecordSize(o.data));
  auto* put = op->mutable_put_object();
  if (!before) {
    SetCreate(put, type, o, activity);
    return Status::Ok();
  }
  put->set_type(std::string(type));
  put->set_id(o.id);
  put->set_patch_json(json::serialize(MakePatch(*before, o)));
  put->set_activity(std::move(activity));
  return Status::Ok();
}

void SetCreate(proto::PutObject* put, std::string_view type, const Object& o,
               std::string_view activity) {
  put->set_type(std::string(type));
  put->set_id(o.id);
  put->set_record_json(EncodeRecord(o));
  put->set_create(true);
  put->set_activity(std::string(activity));
}

json::object DiffMembers(const json::object& before, const json::object& after) {
  json::object out;
  for (const auto& [k, v] : after) {
    auto* was = before.if_contains(k);
    if (!was || *was != v) out[k] = v;
  }
  for (const auto& [k, v] : before) {
    if (!after.contains(k)) out[k] = nullptr;
  }
  return out;
}

json::object MakePatch(const Object& before, const Object& after) {
  return json::object{{"d", DiffMembers(before.data, after.data)},
                      {"s", DiffMembers(before.secret, after.secret)}};
}

Status ApplyPatch(const json::object& patch, json::object* record) {
  for (const char* part : {"d", "s"}) {
    auto* changes = patch.if_contains(part);
    if (!changes) continue;
    if (!changes->is_object()) return InvalidArgument("a patch's members must be objects");
    json::value& target = (*record)[part];
    if (!target.is_object()) target = json::object{};
    for (const auto& [k, v] : changes->get_object()) {
      if (v.is_null())
        target.get_object().erase(k);
      else
        target.get_object()[k] = v;
    }
  }
  return Status::Ok();
}

Status ObjectNotFound(std::string_view id) {
  return NotFound("Resource '" + std::string(id) +
                  "' does not exist or one of its queried reference-property objects are not "
                  "present.");
}

Result<Object> ReadObject(const store::ReadView& view, const store::TenantKeys& keys,
                          std::string_view type, std::string_view id) {
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, view.Get(keys.Object(type, id)));
  if (!raw) return ObjectNotFound(id);
  return DecodeObject(type, *raw);
}

Result<std::optional<std::string>> ReadKind(const store::ReadView& view,
                                            const store::TenantKeys& keys, std::string_view id) {
  return view.Get(keys.Kind(id));
}

Result<std::optional<std::string>> IdByAppId(const store::ReadView& view,
                                             const store::TenantKeys& keys, std::string_view type,
                                             std::string_view app_id) {
  return view.Get(keys.Unique(type, "appId", AsciiLower(app_id)));
}

std::string Str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

bool Bool(const json::object& o, std::string_view key, bool otherwise) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() ? v->get_bool() : otherwise;
}

int64_t Int(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_int64() ? v->get_int64() : 0;
}

std::vector<std::string> Strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  auto* v = o.if_contains(key);
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->get_array()) {
    if (e.is_string()) out.emplace_back(e.get_string());
  }
  return out;
}

json::array StringArray(const std::vector<std::string>& strings) {
  json::array a;
  for (const auto& s : strings) a.emplace_back(s);
  return a;
}

}  // namespace meridian::directory
