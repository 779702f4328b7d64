// The token endpoint is organised by grant: TokenService authenticates the client and hands the
// request to the Grant registered for its grant_type, which decides and answers. Each grant lives
// in a file of its own (grant_*.cc) and is made by a factory declared here.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "auth/oauth_errors.h"
#include "directory/api.h"

namespace meridian::auth {

class TokenIssuer;

// One request to the token endpoint (or the device authorization endpoint), as HTTP gave it.
struct TokenRequest {
  std::string tenant;  // as the URL names it: an id, a domain
  std::vector<std::pair<std::string, std::string>> form;
  std::optional<std::string> authorization;  // the Authorization header
  std::string client_ip, user_agent, request_id;

  // The form parameter `name`; nullopt when absent (TokenService refuses duplicates first).
  std::optional<std::string_view> Param(std::string_view name) const;
  // The parameter, or empty.
  std::string_view Get(std::string_view name) const { return Param(name).value_or(""); }
};

using TokenResult = std::variant<boost::json::object, OAuthError>;
using TokenDone = std::function<void(TokenResult)>;

// How a client proved who it is (RFC 6749 section 2.3, RFC 7523), or did not: a public client.
enum class ClientAuthMethod { kNone, kSecretPost, kSecretBasic, kPrivateKeyJwt };

struct AuthenticatedClient {
  directory::Client client;
  std::string app_id;
  ClientAuthMethod method = ClientAuthMethod::kNone;
  bool confidential() const { return method != ClientAuthMethod::kNone; }
};

// The platform ("web", "spa", "publicClient") under which the application `app` registered the
// redirect URI `uri` (an exact match), or nullopt: where an authorization response, a pushed
// request or a logout may send the browser.
std::optional<std::string_view> RedirectUriPlatform(const directory::Object& app,
                                                     std::string_view uri);

// What a grant gets for one request. Shared by the grant's callbacks.
struct GrantCall {
  directory::SecurityContext ctx;  // the token service's, in the tenant of the URL
  directory::TenantInfo tenant;
  TokenRequest request;
  AuthenticatedClient client;
};

class Grant {
 public:
  virtual ~Grant() = default;
  // The grant_type it serves.
  virtual std::string_view type() const = 0;
  // Whether a public client (one that authenticates with nothing) may use it.
  virtual bool public_clients() const = 0;
  // Answers `call` through `done`, exactly once, on this thread or a directory write's.
  virtual void Run(std::shared_ptr<const GrantCall> call, TokenDone done) = 0;
};

// The grants; `directory` and `issuer` must outlive them.
std::unique_ptr<Grant> NewClientCredentialsGrant(TokenIssuer* issuer);
std::unique_ptr<Grant> NewPasswordGrant(directory::ClientDirectory* directory, TokenIssuer* issuer);
std::unique_ptr<Grant> NewRefreshTokenGrant(directory::ClientDirectory* directory,
                                            TokenIssuer* issuer);
std::unique_ptr<Grant> NewAuthorizationCodeGrant(directory::ClientDirectory* directory,
                                                 TokenIssuer* issuer);
std::unique_ptr<Grant> NewDeviceCodeGrant(directory::ClientDirectory* directory,
                                          TokenIssuer* issuer);

}  // namespace meridian::auth
