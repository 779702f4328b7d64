#include "auth/authorize_endpoint.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "auth/scopes.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/records.h"
#include "web/cookies.h"
#include "web/csrf.h"
#include "web/html.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

namespace {

constexpr std::string_view kCsrfCookie = "meridian_form";
constexpr size_t kMaxParam = 4096;
constexpr size_t kMaxParams = 40;
// What the sign-in form carries over from the authorization request, unchanged.
constexpr std::string_view kCarried[] = {
    "client_id", "response_type", "redirect_uri",          "scope",       "state",
    "nonce",     "response_mode", "code_challenge",        "prompt",      "login_hint",
    "code_challenge_method"};

std::string Get(const AuthorizeRequest& r, std::string_view name) {
  for (const auto& [k, v] : r.params) {
    if (k == name) return v;
  }
  return "";
}

AuthorizeResponse Html(int status, const web::Page& page) {
  AuthorizeResponse out;
  out.status = status;
  out.headers = web::PageHeaders();
  out.body = web::Render(page);
  return out;
}

// An error shown to the user, never sent on: the client or its redirect URI is not to be trusted.
AuthorizeResponse ErrorPage(std::string message) {
  return Html(400, {"Sign-in failed", std::move(message),
                    "<p>The application's sign-in request cannot be completed. Tell its "
                    "developer what this page says.</p>"});
}

// The registered redirect URIs of `app` on `platform` ("web", "spa", "publicClient").
bool Registered(const directory::Object& app, std::string_view platform, std::string_view uri) {
  auto* p = app.data.if_contains(platform);
  if (!p || !p->is_object()) return false;
  auto uris = directory::Strings(p->get_object(), "redirectUris");
  return std::find(uris.begin(), uris.end(), uri) != uris.end();
}

// The origin (scheme://host[:port]) of an absolute URL, for the form_post page's policy.
std::string OriginOf(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  size_t end = url.find_first_of("/?#", scheme + 3);
  return std::string(url.substr(0, end));
}

}  // namespace

struct AuthorizeEndpoint::Flow {
  AuthorizeRequest req;
  std::function<void(AuthorizeResponse)> done;
  std::optional<GrantCall> call;  // the tenant, its context, the client, for codes and the log
  std::string redirect_uri, response_mode, state;
  std::set<std::string> prompt;
  bool public_client = false;
  std::string form_cookie;      // the CSRF cookie's value (new ones are set on the response)
  bool new_form_cookie = false;

  const directory::SecurityContext& ctx() const { return call->ctx; }
  // Sends the browser back to the application with `params` (code or error), `state` and `iss`.
  void Return(std::vector<std::pair<std::string, std::string>> params, const std::string& iss,
              std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!state.empty()) params.emplace_back("state", state);
    params.emplace_back("iss", iss);
    AuthorizeResponse out;
    if (response_mode == "form_post") {
      std::string fields;
      for (const auto& [k, v] : params) {
        fields += "<input type=\"hidden\" name=\"" + web::Escape(k) + "\" value=\"" +
                  web::Escape(v) + "\">";
      }
      // One inline script, allowed by its hash alone, submits the form; without script, the
      // button does.
      static const std::string kSubmit = "document.forms[0].submit();";
      out = Html(200, {"Signing in",
                       "",
                       "<form method=\"post\" action=\"" + web::Escape(redirect_uri) + "\">" +
                           fields +
                           "<button type=\"submit\">Continue</button></form><script>" + kSubmit +
                           "</script>"});
      for (auto& [k, v] : out.headers) {
        if (k != "Content-Security-Policy") continue;
        v = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
            Base64Encode(crypto::Sha256(kSubmit)) + "'; form-action " +
            OriginOf(redirect_uri) + "; frame-ancestors 'none'; base-uri 'none'";
      }
    } else {
      std::string query;
      for (const auto& [k, v] : params) {
        query += (query.empty() ? "" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
      }
      char sep = response_mode == "fragment" ? '#'
                 : redirect_uri.find('?') == std::string::npos ? '?'
                                                               : '&';
      out.status = 302;
      out.headers = {{"Location", redirect_uri + sep + query}, {"Cache-Control", "no-store"}};
    }
    for (auto& h : headers) out.headers.push_back(std::move(h));
    if (new_form_cookie) out.headers.emplace_back("Set-Cookie", FormCookie());
    done(std::move(out));
  }
  std::string FormCookie() const {
    web::CookieOptions o;
    o.same_site = "Strict";
    return web::SetCookie(kCsrfCookie, form_cookie, o);
  }
};

AuthorizeEndpoint::AuthorizeEndpoint(directory::ClientDirectory* directory,
                                     const TokenService* tokens, std::string csrf_key,
                                     AuthorizeOptions options)
    : directory_(directory),
      tokens_(tokens),
      csrf_key_(std::move(csrf_key)),
      options_(options),
      codes_(directory, directory->random()) {}

std::string AuthorizeEndpoint::SessionCookie(std::string_view tenant_id) {
  return "meridian_sso_" + std::string(tenant_id);
}

void AuthorizeEndpoint::Handle(AuthorizeRequest request,
                               std::function<void(AuthorizeResponse)> done) const {
  auto flow = std::make_shared<Flow>();
  flow->req = std::move(request);
  flow->done = std::move(done);
  const AuthorizeRequest& r = flow->req;
  // Checks that need no client: malformed requests get a page.
  if (r.params.size() > kMaxParams) return flow->done(ErrorPage("The request has too many parameters."));
  std::set<std::string_view> seen;
  for (const auto& [k, v] : r.params) {
    if (!seen.insert(k).second) {
      return flow->done(ErrorPage("The parameter '" + k.substr(0, 64) + "' was given twice."));
    }
    if (v.size() > kMaxParam) {
      return flow->done(ErrorPage("The parameter '" + k.substr(0, 64) + "' is too long."));
    }
  }
  auto tenant = tokens_->TenantContext(r.tenant, r.request_id);
  if (!tenant.ok()) return flow->done(ErrorPage("This organization was not found."));
  std::string client_id = Get(r, "client_id");
  if (client_id.empty()) return flow->done(ErrorPage("The request has no client_id."));
  auto client = directory_->FindClient(tenant->second, client_id);
  if (!client.ok()) {
    return flow->done(ErrorPage("The application '" + client_id.substr(0, 64) +
                                "' is not registered in this organization, or is disabled."));
  }
  flow->redirect_uri = Get(r, "redirect_uri");
  const directory::Object& app = client->application;
  bool web = Registered(app, "web", flow->redirect_uri);
  flow->public_client = !web && (Registered(app, "spa", flow->redirect_uri) ||
                                 Registered(app, "publicClient", flow->redirect_uri));
  if (flow->redirect_uri.empty() || (!web && !flow->public_client)) {
    return flow->done(ErrorPage(
        "The redirect URI is not one the application registered (it must match exactly)."));
  }
  TokenRequest log_request;
  log_request.client_ip = r.client_ip;
  log_request.user_agent = r.user_agent;
  log_request.request_id = r.request_id;
  flow->call.emplace(GrantCall{std::move(tenant->second), std::move(tenant->first),
                               std::move(log_request),
                               AuthenticatedClient{std::move(*client), client_id,
                                                   ClientAuthMethod::kNone}});
  flow->state = Get(r, "state");
  flow->response_mode = Get(r, "response_mode");
  std::string iss = tokens_->Issuer(flow->call->tenant.id);

  // From here on the application hears of errors (RFC 6749 section 4.1.2.1).
  auto refuse = [&](std::string error, std::string description) {
    flow->Return({{"error", std::move(error)}, {"error_description", std::move(description)}},
                 iss);
  };
  if (flow->response_mode.empty()) flow->response_mode = "query";
  if (flow->response_mode != "query" && flow->response_mode != "fragment" &&
      flow->response_mode != "form_post") {
    flow->response_mode = "query";
    return refuse("invalid_request", "response_mode must be query, fragment or form_post.");
  }
  if (Get(r, "response_type") != "code") {
    return refuse("unsupported_response_type", "Only response_type=code is served.");
  }
  auto scopes = ParseScopes(Get(r, "scope"), tokens_->issuer().graph());
  if (!scopes.ok()) return refuse("invalid_scope", scopes.status().message());
  std::string challenge = Get(r, "code_challenge"), method = Get(r, "code_challenge_method");
  if (!challenge.empty() && method != "S256") {
    return refuse("invalid_request", "code_challenge_method must be S256 (plain is refused).");
  }
  if (challenge.empty() && !method.empty()) {
    return refuse("invalid_request", "code_challenge_method was sent without a code_challenge.");
  }
  if (challenge.empty() && flow->public_client) {
    return refuse("invalid_request", "A public client must use PKCE (code_challenge, S256).");
  }
  std::string prompt = Get(r, "prompt");
  for (size_t pos = 0; pos < prompt.size();) {
    size_t end = std::min(prompt.find(' ', pos), prompt.size());
    if (end > pos) flow->prompt.insert(prompt.substr(pos, end - pos));
    pos = end + 1;
  }
  for (const std::string& p : flow->prompt) {
    if (p != "none" && p != "login" && p != "select_account") {
      return refuse("invalid_request", "prompt '" + p.substr(0, 32) +
                                           "' is not served (none, login and select_account are).");
    }
  }
  if (flow->prompt.count("none") && flow->prompt.size() > 1) {
    return refuse("invalid_request", "prompt=none cannot be combined with another prompt.");
  }
  auto form_cookie = web::CookieValue(r.cookie_header, kCsrfCookie);
  if (form_cookie && form_cookie->size() == 43) {
    flow->form_cookie = *form_cookie;
  } else {
    flow->form_cookie = Base64UrlEncode(directory_->random()->Bytes(32));
    flow->new_form_cookie = true;
  }
  if (r.post) return SignIn(flow);

  // An SSO session skips the password unless the application asks for it again.
  auto sso = web::CookieValue(r.cookie_header, SessionCookie(flow->call->tenant.id));
  std::optional<directory::Grant> session;
  if (sso && sso->size() == 43) {
    auto found = directory_->ReadGrant(flow->ctx(), directory::kSessionGrant,
                                       directory::GrantHandle(*sso));
    if (found.ok()) session = std::move(*found);
  }
  if (session && !flow->prompt.count("login") && !flow->prompt.count("select_account")) {
    std::string user_id = Str(session->data, "user");
    auto user = directory_->FindUser(flow->ctx(), user_id);
    std::string hint = Get(r, "login_hint");
    if (user.ok() &&
        (hint.empty() || EqualsIgnoreCase(hint, Str(user->user.data, "userPrincipalName")))) {
      return Finish(flow, user_id, directory::Int(session->data, "authTime"),
                    directory::Strings(session->data, "amr"), "");
    }
  }
  if (flow->prompt.count("none")) {
    return refuse("login_required", "The user is not signed in, and prompt=none was asked.");
  }
  ShowSignIn(flow, "");
}

void AuthorizeEndpoint::ShowSignIn(std::shared_ptr<Flow> flow, std::string error) const {
  const AuthorizeRequest& r = flow->req;
  std::string fields;
  for (std::string_view name : kCarried) {
    std::string v = Get(r, name);
    if (v.empty()) continue;
    fields += "<input type=\"hidden\" name=\"" + std::string(name) + "\" value=\"" +
              web::Escape(v) + "\">";
  }
  std::string purpose = "signin:" + flow->call->tenant.id;
  fields += "<input type=\"hidden\" name=\"csrf\" value=\"" +
            web::CsrfToken(csrf_key_, flow->form_cookie, purpose) + "\">";
  std::string login = r.post ? Get(r, "username") : Get(r, "login_hint");
  std::string app = Str(flow->call->client.client.application.data, "displayName");
  std::string content =
      "<p>to continue to <strong>" + web::Escape(app) + "</strong></p>"
      "<form method=\"post\" action=\"/" + web::Escape(flow->call->tenant.id) +
      "/oauth2/v2.0/authorize\">" + fields +
      "<label for=\"username\">Email or username</label>"
      "<input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" "
      "required value=\"" + web::Escape(login) + "\">"
      "<label for=\"password\">Password</label>"
      "<input id=\"password\" name=\"password\" type=\"password\" "
      "autocomplete=\"current-password\" required>"
      "<button type=\"submit\">Sign in</button></form>";
  int status = error.empty() ? 200 : 400;
  AuthorizeResponse out = Html(status, {"Sign in", std::move(error), content});
  if (flow->new_form_cookie) out.headers.emplace_back("Set-Cookie", flow->FormCookie());
  flow->done(std::move(out));
}

void AuthorizeEndpoint::SignIn(std::shared_ptr<Flow> flow) const {
  const AuthorizeRequest& r = flow->req;
  std::string purpose = "signin:" + flow->call->tenant.id;
  if (flow->new_form_cookie ||
      !web::CheckCsrf(csrf_key_, flow->form_cookie, purpose, Get(r, "csrf"))) {
    // A post without the page's token: another site's, or a page from an older session.
    return ShowSignIn(flow, "The sign-in form expired. Sign in again.");
  }
  std::string login = Get(r, "username"), password = Get(r, "password");
  if (login.empty() || password.empty() || login.size() > 256 || password.size() > 256) {
    return ShowSignIn(flow, "Enter your username and password.");
  }
  int64_t started_ms = directory_->clock()->NowMillis();
  directory_->SignInWithPassword(
      flow->ctx(), login, password,
      [this, flow, login, started_ms](Result<directory::PasswordSignIn> in) {
        const TokenIssuer& log = tokens_->issuer();
        if (!in.ok()) {
          log.LogSignIn(*flow->call, nullptr, login, in.status(), {}, true);
          if (in.status().code() != Code::kUnauthenticated) {
            return ShowSignIn(flow, "Sign-in is unavailable right now. Try again.");
          }
          return ShowSignIn(flow, in.status().graph_code() == "AADSTS50053"
                                      ? "Your account is locked for a while after too many "
                                        "failed attempts. Try again later."
                                      : "Your username or password is incorrect.");
        }
        if (in->must_change_password) {
          Status expired(Code::kUnauthenticated,
                         "The password must be changed before signing in.", "AADSTS50055");
          log.LogSignIn(*flow->call, &in->user, login, expired, {"pwd"}, true);
          return ShowSignIn(flow,
                            "Your password has expired and must be changed. Changing it on "
                            "this page is not available yet: ask an administrator to reset it.");
        }
        log.LogSignIn(*flow->call, &in->user, login, Status::Ok(), {"pwd"}, true);
        // A new SSO session.
        std::string secret = Base64UrlEncode(directory_->random()->Bytes(32));
        json::object data{{"user", in->user.id},
                          {"authTime", started_ms},
                          {"amr", json::array{"pwd"}}};
        std::string user_id = in->user.id;
        directory::CreateGrant(
            directory_, flow->ctx(), directory::kSessionGrant, directory::GrantHandle(secret),
            std::move(data), options_.session_lifetime_seconds * 1000,
            [this, flow, user_id, started_ms, secret](Result<directory::Grant> kept) {
              if (!kept.ok()) return ShowSignIn(flow, "Sign-in is unavailable right now. Try again.");
              Finish(flow, user_id, started_ms, {"pwd"}, secret);
            });
      });
}

void AuthorizeEndpoint::Finish(std::shared_ptr<Flow> flow, std::string user_id,
                               int64_t auth_time_ms, std::vector<std::string> amr,
                               std::string new_session) const {
  const AuthorizeRequest& r = flow->req;
  CodeGrant grant{flow->call->client.app_id, flow->redirect_uri, Get(r, "scope"),
                  std::move(user_id),        Get(r, "nonce"),    Get(r, "code_challenge"),
                  auth_time_ms,              std::move(amr)};
  codes_.Issue(
      flow->ctx(), std::move(grant), Get(r, "code_challenge_method"),
      [this, flow, new_session](Result<std::string> code) {
        std::string iss = tokens_->Issuer(flow->call->tenant.id);
        if (!code.ok()) {
          return flow->Return({{"error", "server_error"},
                               {"error_description", "The code could not be issued."}},
                              iss);
        }
        std::vector<std::pair<std::string, std::string>> headers;
        if (!new_session.empty()) {
          web::CookieOptions o;
          o.max_age_seconds = options_.session_lifetime_seconds;
          headers.emplace_back("Set-Cookie",
                               web::SetCookie(SessionCookie(flow->call->tenant.id), new_session, o));
        }
        flow->Return({{"code", *code}}, iss, std::move(headers));
      });
}

}  // namespace meridian::auth
