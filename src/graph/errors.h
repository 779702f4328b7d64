// The one table that turns a Status into an HTTP status and a Graph error body:
// {"error":{"code":"...","message":"...","innerError":{"date","request-id","client-request-id"}}}.
#pragma once

#include <string>

#include "common/status.h"
#include "http/message.h"

namespace meridian::graph {

int HttpStatus(Code code);
// Graph's error code for a status without a specific one ("Request_ResourceNotFound", ...).
std::string DefaultGraphCode(Code code);
// Fills `res` with the Graph error for `status`.
void SetError(const Status& status, const http::Request& req, http::Response* res);

}  // namespace meridian::graph
