#include "odata/query.h"

#include <array>

#include "common/encoding.h"
#include "odata/internal/literals.h"

namespace meridian::odata {
namespace {

using internal::Excerpt;
using Canonical = std::function<std::string(std::string_view)>;

Status OptionError(std::string_view option, std::string message) {
  return Status(Code::kInvalidArgument,
                "Invalid query option '" + std::string(option) + "': " + std::move(message),
                kBadRequest);
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t k = 0; k < s.size(); ++k) {
    char c = s[k];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(k > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// Splits on ',' into trimmed items; fails on an empty item.
Result<std::vector<std::string_view>> SplitList(std::string_view option, std::string_view raw) {
  std::vector<std::string_view> items;
  while (true) {
    size_t comma = raw.find(',');
    std::string_view item = Trim(raw.substr(0, comma));
    if (item.empty()) return OptionError(option, "an item of the list is empty");
    items.push_back(item);
    if (comma == std::string_view::npos) return items;
    raw.remove_prefix(comma + 1);
  }
}

Result<PropertyType> LookUp(std::string_view option, std::string_view name, const Schema& schema) {
  if (!IsIdentifier(name)) {
    return OptionError(option, "'" + Excerpt(name) + "' is not a property name");
  }
  std::optional<PropertyType> t = schema(name);
  if (!t) return OptionError(option, "property '" + Excerpt(name) + "' does not exist");
  return *t;
}

enum class Option { kFilter, kSelect, kOrderBy, kTop, kCount, kSkipToken, kSearch };

constexpr std::array<std::pair<std::string_view, Option>, 7> kOptions = {{
    {"$filter", Option::kFilter},
    {"$select", Option::kSelect},
    {"$orderby", Option::kOrderBy},
    {"$top", Option::kTop},
    {"$count", Option::kCount},
    {"$skiptoken", Option::kSkipToken},
    {"$search", Option::kSearch},
}};

Status ParseSelect(std::string_view raw, const Schema& schema, const Canonical& canonical,
                   QueryOptions* out) {
  constexpr std::string_view kName = "$select";
  if (raw.size() > kMaxOptionLength) {
    return OptionError(kName, "longer than " + std::to_string(kMaxOptionLength) + " characters");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto items, SplitList(kName, raw));
  if (items.size() > kMaxSelect) {
    return OptionError(kName, "more than " + std::to_string(kMaxSelect) + " properties");
  }
  for (std::string_view item : items) {
    MERIDIAN_RETURN_IF_ERROR(LookUp(kName, item, schema).status());
    std::string name = canonical ? canonical(item) : std::string(item);
    bool seen = false;
    for (const std::string& s : out->select) seen = seen || EqualsIgnoreCase(s, name);
    if (!seen) out->select.push_back(std::move(name));
  }
  return Status::Ok();
}

Status ParseOrderBy(std::string_view raw, const Schema& schema, const Canonical& canonical,
                    QueryOptions* out) {
  constexpr std::string_view kName = "$orderby";
  if (raw.size() > kMaxOptionLength) {
    return OptionError(kName, "longer than " + std::to_string(kMaxOptionLength) + " characters");
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto items, SplitList(kName, raw));
  if (items.size() > kMaxOrderBy) {
    return OptionError(kName, "more than " + std::to_string(kMaxOrderBy) + " sort keys");
  }
  for (std::string_view item : items) {
    size_t space = 0;
    while (space < item.size() && !IsSpace(item[space])) ++space;
    std::string_view prop = item.substr(0, space);
    std::string_view direction = Trim(item.substr(space));
    OrderBy key;
    if (EqualsIgnoreCase(direction, "desc")) {
      key.descending = true;
    } else if (!direction.empty() && !EqualsIgnoreCase(direction, "asc")) {
      return OptionError(kName, "'" + Excerpt(direction) + "' is not asc or desc");
    }
    MERIDIAN_ASSIGN_OR_RETURN(PropertyType t, LookUp(kName, prop, schema));
    if (t == PropertyType::kStringCollection || t == PropertyType::kObjectCollection ||
        t == PropertyType::kObject) {
      return OptionError(kName, "property '" + Excerpt(prop) +
                                    "' is a collection or complex value and cannot be sorted on");
    }
    key.prop = canonical ? canonical(prop) : std::string(prop);
    for (const OrderBy& o : out->orderby) {
      if (EqualsIgnoreCase(o.prop, key.prop)) {
        return OptionError(kName, "property '" + Excerpt(prop) + "' appears twice");
      }
    }
    out->orderby.push_back(std::move(key));
  }
  return Status::Ok();
}

Status ParseTop(std::string_view raw, QueryOptions* out) {
  std::string_view v = Trim(raw);
  bool digits = !v.empty() && v.size() <= 6;
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') {
      digits = false;
      break;
    }
    if (digits) n = n * 10 + (c - '0');
  }
  if (!digits || n < 1 || n > kMaxTop) {
    return OptionError(
        "$top", "'" + Excerpt(raw) + "' is not an integer from 1 to " + std::to_string(kMaxTop));
  }
  out->top = n;
  return Status::Ok();
}

}  // namespace

Result<QueryOptions> ParseQueryOptions(
    const std::vector<std::pair<std::string, std::string>>& params, const Schema& schema,
    const Canonical& canonical) {
  QueryOptions out;
  std::array<bool, kOptions.size()> seen{};
  for (const auto& [name, value] : params) {
    if (name.empty() || name[0] != '$') continue;
    size_t index = kOptions.size();
    for (size_t k = 0; k < kOptions.size(); ++k) {
      if (EqualsIgnoreCase(name, kOptions[k].first)) index = k;
    }
    if (index == kOptions.size()) {
      return Status(Code::kInvalidArgument,
                    "Query option '" + Excerpt(name) +
                        "' is not supported on this list; supported: $filter, $select, "
                        "$orderby, $top, $count, $skiptoken, $search.",
                    kBadRequest);
    }
    std::string_view option = kOptions[index].first;
    if (seen[index]) {
      return Status(Code::kInvalidArgument,
                    "Query option '" + std::string(option) + "' is specified more than once.",
                    kBadRequest);
    }
    seen[index] = true;
    switch (kOptions[index].second) {
      case Option::kFilter: {
        MERIDIAN_ASSIGN_OR_RETURN(out.filter, ParseFilter(value));
        MERIDIAN_RETURN_IF_ERROR(Validate(*out.filter, schema));
        if (canonical) CanonicalizePaths(out.filter.get(), canonical);
        out.filter_text = value;
        break;
      }
      case Option::kSelect:
        MERIDIAN_RETURN_IF_ERROR(ParseSelect(value, schema, canonical, &out));
        break;
      case Option::kOrderBy:
        MERIDIAN_RETURN_IF_ERROR(ParseOrderBy(value, schema, canonical, &out));
        break;
      case Option::kTop:
        MERIDIAN_RETURN_IF_ERROR(ParseTop(value, &out));
        break;
      case Option::kCount: {
        std::string_view v = Trim(value);
        if (EqualsIgnoreCase(v, "true")) {
          out.count = true;
        } else if (!EqualsIgnoreCase(v, "false")) {
          return OptionError(option, "'" + Excerpt(value) + "' is not true or false");
        }
        break;
      }
      case Option::kSkipToken:
        if (value.size() > kMaxSkipTokenLength) {
          return OptionError(option,
                             "longer than " + std::to_string(kMaxSkipTokenLength) + " characters");
        }
        out.skiptoken = value;
        break;
      case Option::kSearch:
        if (value.size() > kMaxOptionLength) {
          return OptionError(option,
                             "longer than " + std::to_string(kMaxOptionLength) + " characters");
        }
        out.search = value;
        break;
    }
  }
  return out;
}

}  // namespace meridian::odata
