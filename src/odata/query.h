// The OData system query options of a Graph list request: $filter, $select, $orderby, $top,
// $count, $skiptoken and $search, parsed and checked against the collection's schema.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "odata/filter.h"

namespace meridian::odata {

inline constexpr int kMaxTop = 999;  // Graph's largest page
inline constexpr size_t kMaxSelect = 64;
inline constexpr size_t kMaxOrderBy = 4;
inline constexpr size_t kMaxOptionLength = 4096;      // $select, $orderby, $search
inline constexpr size_t kMaxSkipTokenLength = 16384;  // $skiptoken

struct OrderBy {
  std::string prop;
  bool descending = false;
};

// A list request's options. Move-only (it owns the filter tree).
struct QueryOptions {
  std::unique_ptr<Node> filter;       // validated; null without $filter
  std::string filter_text;            // $filter as sent (empty without it)
  std::vector<std::string> select;    // in request order, duplicates dropped; empty: default set
  std::vector<OrderBy> orderby;       // 0..kMaxOrderBy keys, most significant first
  std::optional<int> top;             // 1..kMaxTop; nullopt: the server's default page size
  bool count = false;                 // $count=true
  std::string skiptoken;              // opaque, as sent; empty without it
  std::optional<std::string> search;  // $search as sent (quotes included), not interpreted
};

// Parses the query string of a list request. `params` are (name, value) pairs, already
// URL-decoded, in request order. Option names are matched case-insensitively and must carry the
// '$' prefix; parameters without '$' are not OData options and are ignored. `schema` types the
// collection's properties. If `canonical` is set, property names in $filter, $select and $orderby
// are replaced by canonical(name) after validation (e.g. the schema's spelling of a name matched
// case-insensitively; see CanonicalizePaths).
//
// Fails with kInvalidArgument (graph code kBadRequest) on: an option given twice; an unsupported
// option ($expand, $skip, $format, ... or any unknown $name); an empty or invalid $filter (see
// ParseFilter and Validate); a $select or $orderby naming a property the schema does not have,
// with an empty item, over kMaxSelect / kMaxOrderBy items, or longer than kMaxOptionLength; a
// $orderby on a collection or complex property, with a direction other than asc/desc, or naming
// a property twice; $top that is not an integer in 1..kMaxTop; $count other than true/false;
// $skiptoken longer than kMaxSkipTokenLength; $search longer than kMaxOptionLength.
Result<QueryOptions> ParseQueryOptions(
    const std::vector<std::pair<std::string, std::string>>& params, const Schema& schema,
    const std::function<std::string(std::string_view)>& canonical = nullptr);

}  // namespace meridian::odata
