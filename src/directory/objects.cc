#include "directory/objects.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "common/encoding.h"
#include "common/random.h"

namespace meridian::directory {
namespace json = boost::json;

namespace {

constexpr size_t kMaxString = 1024;
constexpr size_t kMaxCollection = 256;

Status Bad(std::string message) { return InvalidArgument(std::move(message), "Request_BadRequest"); }

std::string_view EdmName(PropType t) {
  switch (t) {
    case PropType::kString: return "Edm.String";
    case PropType::kBool: return "Edm.Boolean";
    case PropType::kDateTime: return "Edm.DateTimeOffset";
    case PropType::kGuid: return "Edm.Guid";
    case PropType::kInt: return "Edm.Int32";
    case PropType::kStringCollection: return "Collection(Edm.String)";
    case PropType::kObject: return "a complex type";
    case PropType::kObjectCollection: return "a collection of complex types";
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

Status CheckValue(const Property& p, const json::value& v) {
  auto mismatch = [&] {
    return Bad("Cannot convert the value of property '" + std::string(p.name) + "' to " +
               std::string(EdmName(p.type)) + ".");
  };
  switch (p.type) {
    case PropType::kString:
    case PropType::kGuid:
    case PropType::kDateTime: {
      if (!v.is_string()) return mismatch();
      std::string_view s = v.get_string();
      if (s.size() > kMaxString) {
        return Bad("The value of property '" + std::string(p.name) + "' is too long.");
      }
      if (p.type == PropType::kGuid && !IsUuid(s)) return mismatch();
      if (p.type == PropType::kDateTime && !IsIsoDateTime(s)) return mismatch();
      for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20) {
          return Bad("The value of property '" + std::string(p.name) +
                     "' contains a control character.");
        }
      }
      if (!p.allowed.empty()) {
        bool ok = false;
        for (auto a : p.allowed) ok = ok || EqualsIgnoreCase(a, s);
        if (!ok) {
          return Bad("Invalid value '" + std::string(s) + "' for property '" +
                     std::string(p.name) + "'.");
        }
      }
      return Status::Ok();
    }
    case PropType::kBool:
      return v.is_bool() ? Status::Ok() : mismatch();
    case PropType::kInt:
      return v.is_int64() || v.is_uint64() ? Status::Ok() : mismatch();
    case PropType::kStringCollection: {
      if (!v.is_array() || v.get_array().size() > kMaxCollection) return mismatch();
      for (const auto& e : v.get_array()) {
        if (!e.is_string() || e.get_string().size() > kMaxString) return mismatch();
      }
      return Status::Ok();
    }
    case PropType::kObject:
      return v.is_object() ? Status::Ok() : mismatch();
    case PropType::kObjectCollection: {
      if (!v.is_array() || v.get_array().size() > kMaxCollection) return mismatch();
      for (const auto& e : v.get_array()) {
        if (!e.is_object()) return mismatch();
      }
      return Status::Ok();
    }
  }
  return mismatch();
}

}  // namespace

Status ApplyBody(const TypeSchema& type, const json::object& body, bool create,
                 json::object* data) {
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
    if (value.is_null()) {
      if (p->flags & kRequired) {
        return Bad("Property '" + std::string(p->name) + "' is required and cannot be null.");
      }
      data->erase(p->name);
      continue;
    }
    MERIDIAN_RETURN_IF_ERROR(CheckValue(*p, value));
    (*data)[p->name] = value;
  }
  return Status::Ok();
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

Status CheckPasswordComplexity(std::string_view pw) {
  if (pw.size() < 8 || pw.size() > 256) {
    return Bad("The specified password does not comply with password complexity requirements: "
               "it must have 8 to 256 characters.");
  }
  bool lower = false, upper = false, digit = false, symbol = false;
  for (char c : pw) {
    if (islower(static_cast<unsigned char>(c))) lower = true;
    else if (isupper(static_cast<unsigned char>(c))) upper = true;
    else if (isdigit(static_cast<unsigned char>(c))) digit = true;
    else symbol = true;
  }
  if (lower + upper + digit + symbol < 3) {
    return Bad("The specified password does not comply with password complexity requirements: "
               "use three of lower case, upper case, digits and symbols.");
  }
  return Status::Ok();
}

Status CheckRedirectUris(const json::value& uris, bool allow_custom_scheme) {
  if (!uris.is_array()) return Bad("redirectUris must be an array of strings.");
  if (uris.get_array().size() > 256) return Bad("At most 256 redirect URIs are allowed.");
  for (const auto& u : uris.get_array()) {
    if (!u.is_string()) return Bad("redirectUris must be an array of strings.");
    std::string_view s = u.get_string();
    auto parsed = boost::urls::parse_absolute_uri(s);
    if (!parsed || s.size() > 256) {
      return Bad("Redirect URI '" + std::string(s) + "' is not an absolute URI.");
    }
    if (parsed->has_fragment()) {
      return Bad("Redirect URI '" + std::string(s) + "' must not contain a fragment.");
    }
    std::string scheme = AsciiLower(parsed->scheme());
    std::string host = AsciiLower(parsed->host());
    bool loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
    if (scheme == "https" || (scheme == "http" && loopback)) continue;
    if (allow_custom_scheme && scheme != "http" && scheme != "javascript" && scheme != "data") {
      continue;
    }
    return Bad("Redirect URI '" + std::string(s) +
               "' must use https (http is allowed only for localhost).");
  }
  return Status::Ok();
}

}  // namespace meridian::directory
