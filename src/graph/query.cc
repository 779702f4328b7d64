#include "graph/query.h"

#include "common/encoding.h"
#include "crypto/sha.h"
#include "odata/eval.h"
#include "odata/plan.h"
#include "odata/query.h"

namespace meridian::graph {
namespace {

using directory::PropType;

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

// Only readable properties exist for queries: a write-only one (passwordProfile) does not.
const directory::Property* Readable(const directory::TypeSchema& type, std::string_view name) {
  const directory::Property* p = type.Find(name);
  return p && !(p->flags & directory::kWriteOnly) ? p : nullptr;
}

Status Unsupported(std::string m) {
  return Status(Code::kUnsupported, std::move(m), "Request_UnsupportedQuery");
}

directory::IndexRange ToIndexRange(const odata::Range& r) {
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
  return ir;
}

}  // namespace

Result<ListRequest> BuildListRequest(const http::Request& req, const directory::TypeSchema& type) {
  odata::Schema schema = [&type](std::string_view path) -> std::optional<odata::PropertyType> {
    const directory::Property* p = Readable(type, path);
    if (!p) return std::nullopt;
    return ToODataType(p->type);
  };
  auto canonical = [&type](std::string_view path) {
    const directory::Property* p = type.Find(path);
    return p ? std::string(p->name) : std::string(path);
  };
  MERIDIAN_ASSIGN_OR_RETURN(odata::QueryOptions options,
                            odata::ParseQueryOptions(req.query, schema, canonical));
  if (options.search) return Unsupported("$search is not supported.");

  ListRequest lr;
  lr.select = std::move(options.select);
  lr.query.top = options.top.value_or(100);
  lr.query.count = options.count;
  lr.query.skiptoken = std::move(options.skiptoken);
  if (options.orderby.size() > 1) {
    return Unsupported("Sorting by more than one property is not supported.");
  }
  if (!options.orderby.empty()) {
    const directory::Property* p = type.Find(options.orderby[0].prop);
    if (!p || !p->indexed() || p->type == PropType::kStringCollection) {
      return Unsupported("Sorting on property '" + options.orderby[0].prop +
                         "' is not supported.");
    }
    lr.query.orderby = std::string(p->name);
    lr.query.descending = options.orderby[0].descending;
  }
  std::string fingerprint_source;
  if (options.filter) {
    auto plan = odata::PlanFilter(*options.filter, [&type](std::string_view prop) {
      const directory::Property* p = type.Find(prop);
      return p && p->indexed() && p->name == prop;
    });
    if (plan) {
      for (const odata::Range& r : plan->branches) lr.query.branches.push_back(ToIndexRange(r));
    }
    fingerprint_source = odata::ToString(*options.filter);
    std::shared_ptr<const odata::Node> filter(std::move(options.filter));
    lr.query.filter = [filter](const boost::json::object& o) { return odata::Matches(*filter, o); };
    lr.query.has_filter = true;
  }
  fingerprint_source += "|" + lr.query.orderby + (lr.query.descending ? " desc" : "");
  lr.query.fingerprint = HexEncode(crypto::Sha256(fingerprint_source).substr(0, 8));
  return lr;
}

}  // namespace meridian::graph
