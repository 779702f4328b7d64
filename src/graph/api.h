// GraphApi: the Microsoft-Graph-shaped REST API under /v1.0. Every call passes the gate first:
// a valid bearer token for the Graph resource, whose tenant becomes the call's security context
// (the only tenant the call can touch), and an administrator role for writes. Requests are then
// translated to Directory calls and responses shaped as Graph shapes them (@odata.context,
// @odata.nextLink, ETags, the error body of graph/errors.h).
//
// Thread-safe; handlers run on the HTTP server's threads.
#pragma once

#include "auth/token_service.h"
#include "directory/api.h"
#include "http/router.h"

namespace meridian::graph {

class GraphApi {
 public:
  GraphApi(directory::TenantDirectory* directory, const auth::TokenService* tokens);
  void Register(http::Router* router);

 private:
  directory::TenantDirectory* directory_;
  const auth::TokenService* tokens_;
};

}  // namespace meridian::graph
