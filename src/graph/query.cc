#include "graph/query.h"

#include "common/encoding.h"
#include "crypto/sha.h"
#include "odata/eval.h"
#include "odata/filter.h"
#include "odata/plan.h"

namespace meridian::graph {
namespace {

using directory::PropType;

Status Bad(std::string m) { return InvalidArgument(std::move(m), "Request_BadRequest"); }

std::optional<odata::PropertyType> ToODataType(PropType t) {
  switch (t) {
    case PropType::kString: return odata::PropertyType::kString;
    case PropType::kBool: return odata::PropertyType::kBool;
    case PropType::kDateTime: return odata::PropertyType::kDateTime;
    case PropType::kGuid: return odata::PropertyType::kGuid;
    case PropType::kInt: return odata::PropertyType::kInt;
    case PropType::kStringCollection: return odata::PropertyType::kStringCollection;
    case PropType::kObjectCollection: return odata::PropertyType::kObjectCollection;
    case PropType::kObject: return odata::PropertyType::kObject;
  }
  return std::nullopt;
}

// Only readable top-level properties can be filtered on; a write-only one (passwordProfile)
// does not exist for queries.
const directory::Property* Readable(const directory::TypeSchema& type, std::string_view name) {
  const directory::Property* p = type.Find(name);
  return p && !(p->flags & directory::kWriteOnly) ? p : nullptr;
}

// Filter paths are matched case-sensitively by the evaluator; rewrite them to schema spelling.
void Canonicalize(odata::Node* n, const directory::TypeSchema& type) {
  if (!n->on_element && !n->path.empty()) {
    if (const auto* p = type.Find(n->path)) n->path = std::string(p->name);
  }
  for (auto& c : n->children) Canonicalize(c.get(), type);
}

}  // namespace

Result<int> ParseTop(std::string_view raw) {
  int v = 0;
  if (raw.empty() || raw.size() > 4) return Bad("$top must be an integer from 1 to 999.");
  for (char c : raw) {
    if (c < '0' || c > '9') return Bad("$top must be an integer from 1 to 999.");
    v = v * 10 + (c - '0');
  }
  if (v < 1 || v > 999) return Bad("$top must be an integer from 1 to 999.");
  return v;
}

Result<std::vector<std::string>> ParseSelect(std::string_view raw,
                                             const directory::TypeSchema& type) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t comma = raw.find(',', pos);
    std::string_view name = raw.substr(pos, comma == std::string_view::npos ? comma : comma - pos);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    const directory::Property* p = Readable(type, name);
    if (!p) {
      return Bad("Could not find a property named '" + std::string(name) + "' on type '" +
                 std::string(type.odata_type.substr(1)) + "'.");
    }
    if (std::find(out.begin(), out.end(), p->name) == out.end()) out.emplace_back(p->name);
    if (out.size() > 64) return Bad("$select names too many properties.");
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  return out;
}

Result<ListRequest> BuildListRequest(const http::Request& req, const directory::TypeSchema& type) {
  ListRequest lr;
  std::optional<std::string> filter, orderby;
  std::vector<std::string> seen;
  for (const auto& [key, value] : req.query) {
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      return Bad("Query option '" + key + "' was specified more than once.");
    }
    seen.push_back(key);
    if (key == "$filter") {
      filter = value;
    } else if (key == "$select") {
      MERIDIAN_ASSIGN_OR_RETURN(lr.select, ParseSelect(value, type));
    } else if (key == "$orderby") {
      orderby = value;
    } else if (key == "$top") {
      MERIDIAN_ASSIGN_OR_RETURN(lr.query.top, ParseTop(value));
    } else if (key == "$count") {
      if (value != "true" && value != "false") return Bad("$count must be true or false.");
      lr.query.count = value == "true";
    } else if (key == "$skiptoken") {
      lr.query.skiptoken = value;
    } else if (key == "$search" || key == "$expand" || key == "$skip") {
      return Status(Code::kUnsupported, "The query option '" + key + "' is not supported.",
                    "Request_UnsupportedQuery");
    } else if (!key.empty() && key[0] == '$') {
      return Bad("Unknown query option '" + key + "'.");
    }
  }

  std::string fingerprint_source;
  if (filter) {
    MERIDIAN_ASSIGN_OR_RETURN(auto node, odata::ParseFilter(*filter));
    odata::SchemaFn schema = [&type](std::string_view path) -> std::optional<odata::PropertyType> {
      const directory::Property* p = Readable(type, path);
      if (!p) return std::nullopt;
      return ToODataType(p->type);
    };
    MERIDIAN_RETURN_IF_ERROR(odata::Validate(*node, schema));
    Canonicalize(node.get(), type);
    auto plan = odata::PlanFilter(*node, [&type](std::string_view prop) {
      const directory::Property* p = type.Find(prop);
      return p && p->indexed() && p->name == prop;
    });
    if (plan) {
      for (const odata::Range& r : plan->branches) {
        directory::IndexRange ir;
        ir.prop = r.prop;
        ir.kind = r.kind == odata::Range::Kind::kEq       ? directory::IndexRange::Kind::kEq
                  : r.kind == odata::Range::Kind::kPrefix ? directory::IndexRange::Kind::kPrefix
                                                          : directory::IndexRange::Kind::kInterval;
        ir.low = r.low;
        ir.high = r.high;
        ir.has_low = r.has_low;
        ir.has_high = r.has_high;
        ir.low_inclusive = r.low_inclusive;
        ir.high_inclusive = r.high_inclusive;
        lr.query.branches.push_back(std::move(ir));
      }
    }
    fingerprint_source = odata::ToString(*node);
    std::shared_ptr<const odata::Node> shared(std::move(node));
    lr.query.filter = [shared](const boost::json::object& o) { return odata::Matches(*shared, o); };
    lr.query.has_filter = true;
  }
  if (orderby) {
    std::string_view spec = *orderby;
    while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
    if (spec.find(',') != std::string_view::npos) {
      return Status(Code::kUnsupported, "Sorting by more than one property is not supported.",
                    "Request_UnsupportedQuery");
    }
    size_t space = spec.find(' ');
    std::string_view name = spec.substr(0, space);
    std::string_view dir = space == std::string_view::npos ? "" : spec.substr(space + 1);
    while (!dir.empty() && dir.front() == ' ') dir.remove_prefix(1);
    if (!dir.empty() && !EqualsIgnoreCase(dir, "asc") && !EqualsIgnoreCase(dir, "desc")) {
      return Bad("$orderby direction must be asc or desc.");
    }
    const directory::Property* p = Readable(type, name);
    if (!p) return Bad("Could not find a property named '" + std::string(name) + "'.");
    if (!p->indexed() || p->type == PropType::kStringCollection) {
      return Status(Code::kUnsupported,
                    "Sorting on property '" + std::string(p->name) + "' is not supported.",
                    "Request_UnsupportedQuery");
    }
    lr.query.orderby = std::string(p->name);
    lr.query.descending = EqualsIgnoreCase(dir, "desc");
  }
  fingerprint_source += "|" + lr.query.orderby + (lr.query.descending ? " desc" : "");
  lr.query.fingerprint = HexEncode(crypto::Sha256(fingerprint_source).substr(0, 8));
  return lr;
}

}  // namespace meridian::graph
