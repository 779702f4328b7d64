// Pushed authorization requests (RFC 9126): a client posts its authorization request to the PAR
// endpoint, authenticated as at the token endpoint, and sends the browser to the authorization
// endpoint with only client_id and the request_uri it got back, so the parameters are not in a
// URL the browser shows, logs or sends on. (The sign-in pages' forms still carry them as hidden
// fields once the request is open, checked again at each post, as for any request; keeping them
// on the server instead is not done yet.) A request is kept as a grant (directory/grants.h, kind
// "par") for 60 seconds and used once.
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

// The parameters of the pushed request `request_uri` of client `client_id`, spent: a request_uri
// works once. NotFound for one unknown, expired, used, or pushed by another client.
void TakePushedRequest(directory::GrantStore* store, const directory::SecurityContext& ctx,
                       std::string_view request_uri, std::string_view client_id,
                       std::function<void(Result<Params>)> done);

}  // namespace meridian::auth
