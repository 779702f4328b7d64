// Client authentication at the token endpoint (RFC 6749 section 2.3): a client secret in the form
// (client_secret_post) or in HTTP Basic (client_secret_basic), a JWT signed by a certificate
// registered in the application's keyCredentials (private_key_jwt, RFC 7523: how a workload
// signs in without a stored secret), or nothing (a public client, which only some grants admit).
// An assertion's jti is kept as a grant until the assertion expires, so a replayed assertion is
// refused, on every node and after a restart.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "auth/grant.h"
#include "directory/api.h"

namespace meridian::auth {

// The token endpoint URLs an assertion may name as its audience, for the tenant of a request.
using AssertionAudiences =
    std::function<std::vector<std::string>(const directory::TenantInfo&, const TokenRequest&)>;

class ClientAuthenticator {
 public:
  // `directory` must outlive it.
  ClientAuthenticator(directory::ClientDirectory* directory, AssertionAudiences audiences,
                      int64_t clock_skew_seconds);

  // Who the client of `request` is. Refusals are Statuses with OAuth's code as graph_code:
  // invalid_request (two methods, a client_id that disagrees, a malformed parameter),
  // invalid_client (a wrong secret, a bad or replayed assertion), unauthorized_client (no such
  // application, or a disabled one). `done` runs once, here or on a directory write's thread.
  void Authenticate(const directory::SecurityContext& ctx, const directory::TenantInfo& tenant,
                    const TokenRequest& request,
                    std::function<void(Result<AuthenticatedClient>)> done) const;

 private:
  void Assertion(const directory::SecurityContext& ctx, const directory::TenantInfo& tenant,
                 const TokenRequest& request,
                 std::function<void(Result<AuthenticatedClient>)> done) const;

  directory::ClientDirectory* const directory_;
  const AssertionAudiences audiences_;
  const int64_t skew_s_;
};

}  // namespace meridian::auth
