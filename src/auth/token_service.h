// TokenService: the OAuth 2.0 / OpenID Connect authority. It issues RS256-signed access tokens
// (client-credentials grant for now), publishes discovery metadata and JWKS, and turns a bearer
// token presented to the Graph API back into a SecurityContext. Stateless apart from the signing
// keys, which it loads from the directory.
//
// Thread-safe.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "common/bounded_cache.h"
#include "common/status.h"
#include "crypto/jwt.h"
#include "directory/api.h"

namespace meridian::auth {

struct TokenServiceOptions {
  // Base of every URL this deployment publishes, e.g. "https://localhost:8443".
  std::string public_url;
  // The application id URI of the Graph API resource; tokens for it carry it as "aud" and are
  // requested with the scope "<uri>/.default".
  std::string graph_resource = "https://graph.meridian.test";
  // The Graph resource's well-known application id, accepted in scopes as well.
  std::string graph_app_id = "00000003-0000-0000-c000-00000000d1a0";
  int64_t access_token_lifetime_seconds = 3600;
  int64_t clock_skew_seconds = 300;
};

// An OAuth error: RFC 6749 section 5.2 code, description and HTTP status.
struct OAuthError {
  int http_status;
  std::string error;
  std::string description;
};

class TokenService {
 public:
  TokenService(directory::ClientDirectory* directory, TokenServiceOptions options);

  // Loads the signing keys, generating and storing the first one on a new deployment.
  Status Start();

  const TokenServiceOptions& options() const { return options_; }
  // Ok when a signing key is loaded (for readiness).
  Status CheckHealth() const;
  std::string Issuer(std::string_view tenant_id) const;

  // The token endpoint. `form` holds the decoded form parameters; `basic_auth` is the value of an
  // Authorization header, if any (client_secret_basic). Returns the JSON token response.
  using TokenResult = std::variant<boost::json::object, OAuthError>;
  TokenResult Token(std::string_view tenant, const std::vector<std::pair<std::string, std::string>>& form,
                    std::optional<std::string_view> basic_auth) const;

  // OpenID Provider metadata for a tenant (by id or verified domain): only what this service
  // serves (grant types, client authentication methods, scopes and token claims). NotFound when
  // the tenant is unknown.
  Result<boost::json::object> Discovery(std::string_view tenant) const;
  // The scopes the token endpoint accepts: "<graph_resource>/.default" and
  // "<graph_app_id>/.default".
  std::vector<std::string> Scopes() const;
  boost::json::object Jwks() const;

  // Validates a bearer token for the Graph resource: signature, algorithm (RS256 only), time
  // claims (exp required; exp, nbf and iat strict NumericDates), audience, tenant id and issuer.
  // Unauthenticated, with a message naming the failed check, on any failure; never throws,
  // whatever the token holds. Whether the tenant and principal still exist is for the caller,
  // which reads them anyway.
  Result<directory::SecurityContext> Authenticate(std::string_view authorization_header) const;

 private:
  const crypto::SigningKey& CurrentKey() const;

  directory::ClientDirectory* directory_;
  TokenServiceOptions options_;
  mutable std::shared_mutex mu_;
  std::vector<std::unique_ptr<crypto::SigningKey>> keys_;  // oldest first; the last one signs
  std::unique_ptr<crypto::JwtVerifier> verifier_;
  // Tokens already verified, with their expiry: a client presents the same token for an hour,
  // and the signature check is the largest cost of a small read.
  struct Verified {
    directory::SecurityContext ctx;
    int64_t exp;
  };
  mutable BoundedCache<Verified> verified_{20000};
};

}  // namespace meridian::auth
