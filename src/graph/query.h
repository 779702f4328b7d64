// Translation of a Graph list request's OData options ($filter, $orderby, $select, $top, $count,
// $skiptoken) into a directory ListQuery, with Graph's errors for what is malformed or
// unsupported.
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

Result<ListRequest> BuildListRequest(const http::Request& req, const directory::TypeSchema& type);
Result<std::vector<std::string>> ParseSelect(std::string_view raw, const directory::TypeSchema& type);
Result<int> ParseTop(std::string_view raw);

}  // namespace meridian::graph
