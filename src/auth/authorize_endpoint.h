// The authorization endpoint (RFC 6749 section 4.1, OpenID Connect Core section 3.1.2): where a
// browser comes to sign a user in to an application. It checks the request (the client, the
// redirect URI as an exact match of one registered, PKCE S256 for public clients), shows the
// sign-in page (server-rendered, no script needed, CSRF-protected), checks the password under
// smart lockout, and sends the browser back to the application with a code
// (auth/authorization_codes.h), by redirect (response_mode=query) or by a form it posts
// (form_post), with `state` and the issuer (`iss`, RFC 9207).
//
// A successful sign-in starts an SSO session: a random secret in a cookie of the tenant (Secure,
// HttpOnly, SameSite=Lax), kept as a grant (directory/grants.h, kind "session") under its hash,
// so every node knows it and a restart keeps it. A later request with the cookie skips the
// password, and prompt=none works; prompt=login asks again, prompt=select_account shows the
// page to sign in as someone else.
//
// Errors about the client or the redirect URI are shown on a page: the browser is never sent to
// a URI that is not registered. Every other error goes back to the application, as OAuth says.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "auth/authorization_codes.h"
#include "directory/api.h"

namespace meridian::auth {

class TokenService;

// One request to the endpoint, as HTTP gave it.
struct AuthorizeRequest {
  std::string tenant;  // as the URL names it
  bool post = false;   // the sign-in form's submission (else a GET from the application)
  std::vector<std::pair<std::string, std::string>> params;  // query (GET) or form (POST)
  std::string cookie_header;
  std::string client_ip, user_agent, request_id;
};

// What the browser gets: a page, or a redirect.
struct AuthorizeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct AuthorizeOptions {
  int64_t session_lifetime_seconds = 24 * 3600;  // the SSO session, from its sign-in
};

class AuthorizeEndpoint {
 public:
  // All must outlive the endpoint. `csrf_key` (32 bytes or more) keys the forms' CSRF tokens.
  AuthorizeEndpoint(directory::ClientDirectory* directory, const TokenService* tokens,
                    std::string csrf_key, AuthorizeOptions options = {});

  // Answers `request` through `done`, once, here or on a directory write's thread.
  void Handle(AuthorizeRequest request, std::function<void(AuthorizeResponse)> done) const;

  // The SSO cookie's name for the tenant `tenant_id`.
  static std::string SessionCookie(std::string_view tenant_id);

 private:
  struct Flow;
  void SignIn(std::shared_ptr<Flow> flow) const;
  void Finish(std::shared_ptr<Flow> flow, std::string user_id, int64_t auth_time_ms,
              std::vector<std::string> amr, std::string new_session) const;
  void ShowSignIn(std::shared_ptr<Flow> flow, std::string error) const;

  directory::ClientDirectory* const directory_;
  const TokenService* const tokens_;
  const std::string csrf_key_;
  const AuthorizeOptions options_;
  mutable AuthorizationCodes codes_;
};

}  // namespace meridian::auth
