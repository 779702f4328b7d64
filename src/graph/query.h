// Translation of a Graph list request's OData options ($filter, $orderby, $select, $top, $count,
// $skiptoken) into a directory ListQuery, with Graph's errors for what the store will not serve.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "directory/directory.h"
#include "http/message.h"

namespace meridian::graph {

struct ListRequest {
  directory::ListQuery query;
  std::vector<std::string> select;  // canonical property names; empty = the default set
};

// InvalidArgument for malformed options; kUnsupported for valid ones the store does not serve
// ($search, ordering by an unindexed property or by several).
Result<ListRequest> BuildListRequest(const http::Request& req, const directory::TypeSchema& type);

}  // namespace meridian::graph
