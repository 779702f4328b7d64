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
  // Told the outcome of every directory write a request makes, before its response is finished:
  // a cluster node adds the write's replica token to the response, or has a write refused because
  // the primary moved routed again. Called on the thread that finishes the request.
  using WriteObserver = std::function<void(const Result<directory::WriteResult>&, http::Response&)>;

  GraphApi(directory::TenantDirectory* directory, const auth::TokenService* tokens,
           WriteObserver observer = nullptr);
  // Reads are answered on the calling thread; writes finish when the directory's write does
  // (see directory::WriteDone), so no thread waits for a commit.
  void Register(http::Router* router);

 private:
  directory::TenantDirectory* directory_;
  const auth::TokenService* tokens_;
  WriteObserver observer_;
};

}  // namespace meridian::graph
