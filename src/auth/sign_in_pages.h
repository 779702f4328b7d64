// The pages a browser sees when a user signs in: server-rendered, usable without script, every
// form CSRF-protected (web/csrf.h, bound to a SameSite=Strict form cookie and to the tenant).
//
//   Authorize    /{tenant}/oauth2/v2.0/authorize    the authorization code flow (RFC 6749 section
//                4.1, OpenID Connect Core 3.1.2): checks the request (the client, the redirect URI
//                as an exact match of one registered, PKCE S256 for public clients) and sends the
//                browser back with a code (auth/authorization_codes.h), by redirect (query,
//                fragment) or by a form it posts (form_post), with `state` and `iss` (RFC 9207).
//                Errors about the client or the redirect URI are shown on a page: the browser is
//                never sent to a URI that is not registered. (authorize_endpoint.cc)
//   DeviceLogin  /{tenant}/oauth2/v2.0/devicelogin  the device flow's verification page (RFC
//                8628): the user enters the code a device shows, confirms the application it
//                names, signs in, and the device's poll gets its tokens (auth/device_codes.h).
//                (device_login.cc)
//   Logout       /{tenant}/oauth2/v2.0/logout       RP-initiated logout (OpenID Connect
//                RP-Initiated Logout 1.0): ends the SSO session, then sends the browser to the
//                application's post_logout_redirect_uri only when it is one of that application's
//                registered redirect URIs or its logoutUrl (the application named by an
//                id_token_hint this service signed, or by client_id); otherwise a page says the
//                user signed out. Without a hint naming the session's user, the user confirms
//                first (a CSRF-protected form), so another site cannot sign the user out.
//                (logout.cc)
//
// Both sign the user in the same way (sign_in_pages.cc): an SSO session, else the password under
// smart lockout. A user whose password must change (forceChangePasswordNextSignIn) changes it on
// the next page, under the password policy. Then the second factor (sign_in_mfa.cc): a user with
// an authenticator registered enters its code (TOTP, RFC 6238; each time step once) or a
// recovery code; a user whose per-user MFA state asks for one but has none registers one first
// (a QR code of its otpauth URI, the seed sealed under the operator's KEK before it is stored)
// and is shown ten recovery codes once. Between these steps the sign-in is pending: a grant
// (kPendingSignInGrant) under a random ticket the page carries, for ten minutes, saying who
// proved what; five codes tried end it, and ten wrong codes lock the user's second step for a
// while (directory/lockout.h), across sign-ins. Last, consent (sign_in_consent.cc): when the application
// asks for Graph permissions the user has not granted it (an administrator may grant them for
// everyone, as oauth2PermissionGrants), a page lists them, and the user's consent is kept as
// their own grant (consentType Principal); permissions only an administrator may consent to
// send the user back with consent_required.
//
// A sign-in starts an SSO session: a random secret in a cookie of the tenant (Secure, HttpOnly,
// SameSite=Lax), kept as a grant (directory/grants.h, kind "session") under its hash, so every
// node knows it and a restart keeps it. A later request with the cookie skips the password, and
// prompt=none works; prompt=login asks again, prompt=select_account shows the page to sign in as
// someone else.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/authorization_codes.h"
#include "auth/device_codes.h"
#include "crypto/sealed.h"
#include "directory/api.h"

namespace meridian::auth {

class TokenService;

// One request to a page, as HTTP gave it.
struct PageRequest {
  std::string tenant;  // as the URL names it
  bool post = false;   // a form's submission (else a GET)
  std::vector<std::pair<std::string, std::string>> params;  // query (GET) or form (POST)
  std::string cookie_header;
  std::string client_ip, user_agent, request_id;
};

// What the browser gets: a page, or a redirect.
struct PageResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct SignInPagesOptions {
  int64_t session_lifetime_seconds = 24 * 3600;  // the SSO session, from its sign-in
  int64_t pending_sign_in_seconds = 600;  // to change the password or give a second factor
  int max_code_failures = 5;              // wrong second-factor codes before a sign-in ends
  std::string totp_issuer = "Meridian";   // the authenticator app's label for the account
};

class SignInPages {
 public:
  // All must outlive the pages. `kek` seals authenticator seeds; `csrf_key` (32 bytes or more)
  // keys the forms' CSRF tokens.
  SignInPages(directory::ClientDirectory* directory, const TokenService* tokens, crypto::Kek kek,
              std::string csrf_key, SignInPagesOptions options = {});

  // Each answers `request` through `done`, once, here or on a directory write's thread.
  void Authorize(PageRequest request, std::function<void(PageResponse)> done) const;
  void DeviceLogin(PageRequest request, std::function<void(PageResponse)> done) const;
  void Logout(PageRequest request, std::function<void(PageResponse)> done) const;

  // The SSO cookie's name for the tenant `tenant_id`.
  static std::string SessionCookie(std::string_view tenant_id);

 // One request's state (auth/sign_in_flow.h, internal to auth/).
  struct Flow;

 private:
  // Who signed in, and the new session's secret (empty when an existing session was used).
  struct SignedIn {
    std::string user_id;
    std::string login;  // userPrincipalName
    int64_t auth_time_ms = 0;
    std::vector<std::string> amr;
    std::string new_session;
  };

  // Shared by the pages (sign_in_pages.cc).
  // The flow of a request to `page` ("authorize", ...): what every page checks (the parameters'
  // number and size, none given twice; the tenant) checked, its tenant, form cookie and form
  // action set. Null after answering with an error page.
  std::shared_ptr<Flow> Begin(PageRequest request, std::function<void(PageResponse)> done,
                              std::string_view page) const;
  bool CsrfOk(const Flow& flow) const;
  // A form's hidden fields: the parameters the flow carries, the CSRF token, the step it posts
  // (none when empty: the form's buttons name it).
  std::string FormFields(const Flow& flow, std::string_view step) const;
  // The user of the request's SSO session, if it has a live one and the account is enabled.
  std::optional<SignedIn> Session(const Flow& flow) const;
  void ShowSignIn(std::shared_ptr<Flow> flow, std::string error) const;
  // Runs the sign-in's step `step` (a form the sign-in showed was posted: "password",
  // "newpassword", "mfa", "enrol"); false, doing nothing, for another step.
  bool SignInStep(std::shared_ptr<Flow> flow, std::string_view step) const;
  void SignIn(std::shared_ptr<Flow> flow) const;
  void ShowPasswordChange(std::shared_ptr<Flow> flow, std::string ticket, std::string error) const;
  void ChangePassword(std::shared_ptr<Flow> flow) const;
  // A pending sign-in: kept under a new ticket (then `then`), read back by the ticket the form
  // carries when its stage is `stage`, ended.
  void Pend(std::shared_ptr<Flow> flow, boost::json::object state,
            std::function<void(std::string ticket)> then) const;
  std::optional<boost::json::object> Pending(const Flow& flow, std::string_view stage) const;
  void EndPending(std::shared_ptr<Flow> flow, std::function<void()> then) const;
  // Logs the sign-in, keeps a new SSO session for the user and continues the flow (after showing
  // `recovery_codes`, when a second factor was just registered).
  void StartSession(std::shared_ptr<Flow> flow, const directory::Object& user,
                    int64_t auth_time_ms, std::vector<std::string> amr,
                    std::vector<std::string> recovery_codes = {}) const;

  // The second factor (sign_in_mfa.cc), once the password verified at `auth_time_ms`.
  void AfterPassword(std::shared_ptr<Flow> flow, const directory::Object& user,
                     int64_t auth_time_ms) const;
  void ShowCodeChallenge(std::shared_ptr<Flow> flow, std::string ticket, std::string error) const;
  void CheckCode(std::shared_ptr<Flow> flow) const;  // step "mfa"
  void ShowEnrolment(std::shared_ptr<Flow> flow, std::string ticket, std::string_view seed,
                     std::string error) const;
  void Enrol(std::shared_ptr<Flow> flow) const;  // step "enrol"
  // Counts an attempt at a code on the pending sign-in before the code is checked (so that
  // concurrent posts get max_code_failures attempts in all), then `next` with its number; the
  // sign-in ends instead when they are spent.
  void CountAttempt(std::shared_ptr<Flow> flow, std::function<void(int64_t attempt)> next) const;
  // A wrong code: logged, and counted against the user's second step (locked as smart lockout
  // locks a name, whatever the sign-in); then `again`, or the end of the sign-in at the last
  // attempt.
  void WrongCode(std::shared_ptr<Flow> flow, const directory::Object& user, int64_t attempt,
                 std::function<void()> again) const;
  void ShowRecoveryCodes(std::shared_ptr<Flow> flow, const SignedIn& in,
                         const std::vector<std::string>& codes) const;
  // The Set-Cookie of the session `in` started, if it started one.
  std::vector<std::pair<std::string, std::string>> SessionHeaders(const Flow& flow,
                                                                  const SignedIn& in) const;
  // An error page: the request cannot go on (and is never sent back to an application).
  static PageResponse ErrorPage(std::string message);

  // Consent (sign_in_consent.cc): continues with flow->then once the user consented to the
  // flow's scope (asking on a page for what is not granted yet, or for all with
  // prompt=consent); the consent page's post (steps "consent" and "noconsent").
  void Consent(std::shared_ptr<Flow> flow, SignedIn in) const;
  void GrantConsent(std::shared_ptr<Flow> flow) const;

  // The code flow (authorize_endpoint.cc).
  void AuthorizeRequest(std::shared_ptr<Flow> flow) const;  // the request's checks
  void IssueCode(std::shared_ptr<Flow> flow, SignedIn in) const;
  // The device flow (device_login.cc).
  void ShowCodeEntry(std::shared_ptr<Flow> flow, std::string error) const;
  void DeviceStep(std::shared_ptr<Flow> flow) const;
  void ApproveDevice(std::shared_ptr<Flow> flow, SignedIn in) const;

  directory::ClientDirectory* const directory_;
  const TokenService* const tokens_;
  const crypto::Kek kek_;
  const std::string csrf_key_;
  const SignInPagesOptions options_;
  mutable AuthorizationCodes codes_;
  mutable DeviceCodes devices_;
};

}  // namespace meridian::auth
