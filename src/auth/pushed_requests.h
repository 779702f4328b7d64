// Pushed authorization requests (RFC 9126): a client posts its authorization request to the PAR
// endpoint, authenticated as at the token endpoint, and sends the browser to the authorization
// endpoint with only client_id and the request_uri it got back. The parameters never pass
// through the browser: the sign-in pages' forms carry the request_uri, and each post reads the
// parameters from the server. A request is kept as a grant (directory/grants.h, kind "par"): for
// 60 seconds until the browser opens it (once: a second open is refused), then for the sign-in
// (10 minutes), and it is spent when its code is issued.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "directory/grants.h"

namespace meridian::auth {

inline constexpr std::string_view kRequestUriPrefix = "urn:ietf:params:oauth:request_uri:";
inline constexpr int64_t kPushedRequestLifetimeMs = 60'000;

using Params = std::vector<std::pair<std::string, std::string>>;

// Keeps `params` (an authorization request of client `client_id`) and answers its request_uri.
void PushRequest(directory::GrantStore* store, Random* random,
                 const directory::SecurityContext& ctx, std::string client_id, Params params,
                 std::function<void(Result<std::string>)> done);

// The parameters of the pushed request `request_uri` of client `client_id`, opened by the
// authorization endpoint: once (NotFound for one unknown, expired, opened already, or pushed by
// another client); it then lives for `sign_in_ms`.
void OpenPushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                       std::string_view request_uri, std::string_view client_id,
                       int64_t sign_in_ms, std::function<void(Result<Params>)> done);
// The parameters of an opened request, for a post of its sign-in; NotFound as above, or when it
// was not opened.
Result<Params> ReadPushedRequest(const directory::GrantStore* store,
                                 const directory::SecurityContext& ctx,
                                 std::string_view request_uri, std::string_view client_id);
// Spends an opened request as its code is issued: of two, one goes on (NotFound for the other).
void SpendPushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                        std::string_view request_uri, std::string_view client_id,
                        std::function<void(Status)> done);

}  // namespace meridian::auth
