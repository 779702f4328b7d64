#include "directory/objects.h"

#include <boost/json.hpp>

#include "common/encoding.h"
#include "common/random.h"
#include "directory/value_checks.h"

namespace meridian::directory {
namespace json = boost::json;

namespace {

Status Bad(std::string message) { return InvalidArgument(std::move(message), "Request_BadRequest"); }

std::string Join(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}

std::string EdmName(const Property& p) {
  switch (p.type) {
    case PropType::kString: return "Edm.String";
    case PropType::kBool: return "Edm.Boolean";
    case PropType::kDateTime: return "Edm.DateTimeOffset";
    case PropType::kGuid: return "Edm.Guid";
    case PropType::kInt: return "Edm.Int32";
    case PropType::kStringCollection: return "Collection(Edm.String)";
    case PropType::kObject:
      return p.complex ? std::string(p.complex->name) : "a complex type";
    case PropType::kObjectCollection:
      return p.complex ? "Collection(" + std::string(p.complex->name) + ")"
                       : "a collection of complex types";
  }
  return "?";
}

bool IsIsoDateTime(std::string_view s) {
  // yyyy-mm-ddThh:mm:ss with optional fraction and Z or an offset.
  if (s.size() < 20) return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18}) {
    if (!isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return s[4] == '-' && s[7] == '-' && (s[10] == 'T' || s[10] == 't') && s[13] == ':' &&
         s[16] == ':';
}

// Characters, not bytes: Graph's limits count characters. The parser has checked the UTF-8.
size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return n;
}

Status TooLarge(std::string_view what, size_t size) {
  return Bad(std::string(what) + " takes " + std::to_string(size) +
             " bytes as JSON; the limit is " + std::to_string(kMaxRecordBytes) + " bytes (" +
             std::to_string(kMaxRecordBytes / 1024) + " KiB).");
}

// A string, or one element of a string collection: type, length, control characters,
// enumeration, then the property's own check. Returns the value as stored.
Result<json::value> CheckString(const Property& p, const json::value& v, const std::string& path,
                                bool element) {
  auto mismatch = [&] {
    return Bad("Cannot convert the value of property '" + path + "' to " +
               (element ? std::string("Edm.String") : EdmName(p)) + ".");
  };
  if (!v.is_string()) return mismatch();
  std::string_view s = v.get_string();
  if (s.size() > p.length_limit() && Utf8Length(s) > p.length_limit()) {
    return Bad("The value of property '" + path + "' is too long: at most " +
               std::to_string(p.length_limit()) + " characters are allowed.");
  }
  if (p.type == PropType::kGuid && !IsUuid(s)) return mismatch();
  if (p.type == PropType::kDateTime && !IsIsoDateTime(s)) return mismatch();
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return Bad("The value of property '" + path + "' contains a control character.");
    }
  }
  if (!p.allowed.empty()) {
    for (std::string_view a : p.allowed) {
      if (EqualsIgnoreCase(a, s)) return json::value(json::string(a));
    }
    return Bad("Invalid value '" + std::string(s) + "' for property '" + path + "'.");
  }
  if (p.check) MERIDIAN_RETURN_IF_ERROR(p.check(path, s));
  return json::value(v);
}

Result<json::value> CheckComplex(const Property& p, const json::value& v, const std::string& path);

// Refuses two elements of one collection that share the value of a member marked
// kUniqueInCollection.
Status CheckUniqueMembers(const ComplexType& t, const json::array& elements,
                          const std::string& path) {
  for (const Property& m : t.members) {
    if (!(m.flags & kUniqueInCollection)) continue;
    std::set<std::string> seen;
    for (const json::value& e : elements) {
      const json::value* v = e.get_object().if_contains(m.name);
      if (!v || !v->is_string()) continue;
      if (!seen.insert(AsciiLower(v->get_string())).second) {
        return Bad("Two entries of '" + path + "' have the same " + std::string(m.name) + " '" +
                   std::string(v->get_string()) + "'; it must be unique.");
      }
    }
  }
  return Status::Ok();
}

Result<json::value> CheckValueAt(const Property& p, const json::value& v, const std::string& path) {
  auto mismatch = [&] {
    return Bad("Cannot convert the value of property '" + path + "' to " + EdmName(p) + ".");
  };
  switch (p.type) {
    case PropType::kString:
    case PropType::kGuid:
    case PropType::kDateTime:
      return CheckString(p, v, path, false);
    case PropType::kBool:
      if (!v.is_bool()) return mismatch();
      return v;
    case PropType::kInt: {
      if (!v.is_int64() && !v.is_uint64()) return mismatch();
      bool in_range = v.is_int64() ? v.get_int64() >= p.min_value && v.get_int64() <= p.max_value
                                   : v.get_uint64() <= static_cast<uint64_t>(p.max_value);
      if (!in_range) {
        return Bad("The value of property '" + path + "' must be between " +
                   std::to_string(p.min_value) + " and " + std::to_string(p.max_value) + ".");
      }
      return v;
    }
    case PropType::kStringCollection:
    case PropType::kObjectCollection: {
      if (!v.is_array()) return mismatch();
      const json::array& in = v.get_array();
      if (in.size() > p.count_limit()) {
        return Bad("Property '" + path + "' has " + std::to_string(in.size()) +
                   " values; at most " + std::to_string(p.count_limit()) + " are allowed.");
      }
      json::array out;
      out.reserve(in.size());
      for (const json::value& e : in) {
        MERIDIAN_ASSIGN_OR_RETURN(json::value checked,
                                  p.type == PropType::kStringCollection
                                      ? CheckString(p, e, path, true)
                                      : CheckComplex(p, e, path));
        out.push_back(std::move(checked));
      }
      if (p.type == PropType::kObjectCollection) {
        MERIDIAN_RETURN_IF_ERROR(CheckUniqueMembers(*p.complex, out, path));
      }
      return json::value(std::move(out));
    }
    case PropType::kObject:
      return CheckComplex(p, v, path);
  }
  return mismatch();
}

// One complex value (of a kObject property, or one element of a kObjectCollection): every
// member declared, checked, required members present.
Result<json::value> CheckComplex(const Property& p, const json::value& v, const std::string& path) {
  if (!v.is_object()) {
    return Bad("Cannot convert the value of property '" + path + "' to " + EdmName(p) + ".");
  }
  if (!p.complex) {
    // A complex property whose members the schema does not declare accepts none.
    return Bad("Property '" + path + "' cannot be set.");
  }
  const ComplexType& t = *p.complex;
  json::object out;
  for (const auto& [key, value] : v.get_object()) {
    if (key == "@odata.type") {
      std::string_view given = value.is_string() ? std::string_view(value.get_string()) : "";
      if (!given.empty() && given.front() == '#') given.remove_prefix(1);
      if (!EqualsIgnoreCase(given, t.name)) {
        return Bad("@odata.type of '" + path + "' must be '#" + std::string(t.name) + "'.");
      }
      continue;
    }
    const Property* m = t.Find(key);
    if (!m) {
      return Bad("Property '" + std::string(key) + "' does not exist as a declared property or "
                 "extension property of " + std::string(t.name) + ".");
    }
    std::string member_path = Join(path, m->name);
    if (out.contains(m->name)) {
      return Bad("Property '" + member_path + "' is given more than once.");
    }
    if (value.is_null()) {
      if (m->required() || m->collection()) {
        return Bad("Property '" + member_path + "' cannot be null.");
      }
      out[m->name] = nullptr;
      continue;
    }
    MERIDIAN_ASSIGN_OR_RETURN(json::value checked, CheckValueAt(*m, value, member_path));
    out[m->name] = std::move(checked);
  }
  for (const Property& m : t.members) {
    if (m.required() && !out.contains(m.name)) {
      return Bad("Property '" + Join(path, m.name) + "' is required.");
    }
  }
  return json::value(std::move(out));
}

}  // namespace

Result<json::value> ValidateValue(const Property& property, const json::value& value) {
  return CheckValueAt(property, value, std::string(property.name));
}

Status CheckRecordSize(const json::object& data) {
  size_t size = json::serialize(data).size();
  if (size > kMaxRecordBytes) return TooLarge("The object's properties", size);
  return Status::Ok();
}

std::set<std::string> Addresses(std::string_view type, const json::object& data) {
  std::set<std::string> out;
  auto add = [&](std::string_view s) {
    if (!s.empty()) out.insert(AsciiLower(s));
  };
  if (type == "user") {
    if (auto* upn = data.if_contains("userPrincipalName"); upn && upn->is_string()) {
      add(upn->get_string());
    }
  } else if (type != "group") {
    return out;
  }
  if (auto* mail = data.if_contains("mail"); mail && mail->is_string()) add(mail->get_string());
  if (auto* proxies = data.if_contains("proxyAddresses"); proxies && proxies->is_array()) {
    for (const json::value& e : proxies->get_array()) {
      if (!e.is_string()) continue;
      std::string_view s = e.get_string();
      // "SMTP:primary@x", "smtp:alias@x"; a colon before any '@' starts a prefix.
      size_t colon = s.find(':');
      if (colon != std::string_view::npos && s.substr(0, colon).find('@') == s.npos) {
        if (!EqualsIgnoreCase(s.substr(0, colon), "smtp")) continue;
        s.remove_prefix(colon + 1);
      }
      add(s);
    }
  }
  return out;
}

Status ApplyBody(const TypeSchema& type, const json::object& body, bool create,
                 json::object* data) {
  if (size_t size = json::serialize(body).size(); size > kMaxRecordBytes) {
    return TooLarge("The request body", size);
  }
  std::set<std::string_view> given;
  for (const auto& [key, value] : body) {
    if (key == "@odata.type") {
      if (!value.is_string() || !EqualsIgnoreCase(value.get_string(), type.odata_type)) {
        return Bad("@odata.type must be '" + std::string(type.odata_type) + "'.");
      }
      continue;
    }
    const Property* p = type.Find(key);
    if (!p) {
      return Bad("Property '" + std::string(key) + "' does not exist as a declared property or "
                 "extension property of " + std::string(type.odata_type.substr(1)) + ".");
    }
    if (p->read_only()) {
      return Bad("Property '" + std::string(p->name) + "' is read-only and cannot be set.");
    }
    if (!create && (p->flags & kImmutable)) {
      return Bad("Property '" + std::string(p->name) + "' cannot be changed after creation.");
    }
    if (!given.insert(p->name).second) {
      return Bad("Property '" + std::string(p->name) + "' is given more than once.");
    }
    if (value.is_null()) {
      if (p->flags & kRequired) {
        return Bad("Property '" + std::string(p->name) + "' is required and cannot be null.");
      }
      data->erase(p->name);
      continue;
    }
    MERIDIAN_ASSIGN_OR_RETURN(json::value checked, ValidateValue(*p, value));
    (*data)[p->name] = std::move(checked);
  }
  return CheckRecordSize(*data);
}

Status CheckRequired(const TypeSchema& type, const json::object& data) {
  for (const Property& p : type.properties) {
    if ((p.flags & kRequired) && !data.contains(p.name)) {
      return Bad("Property '" + std::string(p.name) + "' is required to create a " +
                 std::string(type.name()) + ".");
    }
  }
  return Status::Ok();
}

}  // namespace meridian::directory
