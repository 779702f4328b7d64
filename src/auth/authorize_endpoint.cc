// The authorization endpoint: the code flow of the sign-in pages (auth/sign_in_pages.h).
#include "auth/sign_in_flow.h"

#include <algorithm>
#include <boost/json.hpp>

#include "auth/pushed_requests.h"
#include "auth/scopes.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/records.h"
#include "web/html.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

namespace {

// What the sign-in form carries over from the authorization request, unchanged.
constexpr std::string_view kCarried[] = {
    "client_id", "response_type", "redirect_uri",          "scope",       "state",
    "nonce",     "response_mode", "code_challenge",        "prompt",      "login_hint",
    "code_challenge_method"};

// Sends the browser back to the application with `params` (a code or an error), `state` and
// `iss` (RFC 9207), as the request's response_mode says, with `headers` added.
void ReturnToApp(SignInPages::Flow& flow, std::vector<std::pair<std::string, std::string>> params,
                 const std::string& iss,
                 std::vector<std::pair<std::string, std::string>> headers = {}) {
  if (!flow.state.empty()) params.emplace_back("state", flow.state);
  params.emplace_back("iss", iss);
  PageResponse out;
  if (flow.response_mode == "form_post") {
    std::string fields;
    for (const auto& [k, v] : params) fields += Hidden(k, v);
    // One inline script, allowed by its hash alone, submits the form; without script, the
    // button does.
    static const std::string kSubmit = "document.forms[0].submit();";
    out = HtmlPage("Signing in", "",
                   "<form method=\"post\" action=\"" + web::Escape(flow.redirect_uri) + "\">" +
                       fields + "<button type=\"submit\">Continue</button></form><script>" +
                       kSubmit + "</script>");
    for (auto& [k, v] : out.headers) {
      if (k != "Content-Security-Policy") continue;
      v = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" +
          Base64Encode(crypto::Sha256(kSubmit)) + "'; form-action " +
          OriginOf(flow.redirect_uri) + "; frame-ancestors 'none'; base-uri 'none'";
    }
  } else {
    std::string query;
    for (const auto& [k, v] : params) {
      query += (query.empty() ? "" : "&") + PercentEncode(k) + "=" + PercentEncode(v);
    }
    char sep = flow.response_mode == "fragment"                  ? '#'
               : flow.redirect_uri.find('?') == std::string::npos ? '?'
                                                                   : '&';
    out.status = 302;
    out.headers = {{"Location", flow.redirect_uri + sep + query}, {"Cache-Control", "no-store"}};
  }
  for (auto& h : headers) out.headers.push_back(std::move(h));
  flow.Respond(std::move(out));
}

}  // namespace

void SignInPages::Authorize(PageRequest request, std::function<void(PageResponse)> done) const {
  auto flow = Begin(std::move(request), std::move(done), "authorize");
  if (!flow) return;
  // A pushed request (RFC 9126): its parameters, and only those, are the request. The pages'
  // forms carry its request_uri, and each post reads the parameters again from the server.
  if (std::string uri = flow->Get("request_uri"); !uri.empty()) {
    std::string client_id = flow->Get("client_id");
    auto with = [flow, uri](Params pushed) {
      // What the page's own form posted stays (csrf, step, credentials, codes); a request
      // parameter posted beside the request_uri is ignored.
      for (const auto& [k, v] : flow->req.params) {
        bool request_param = k == "request_uri" || std::find(std::begin(kCarried),
                                                             std::end(kCarried),
                                                             k) != std::end(kCarried);
        if (!request_param) pushed.emplace_back(k, v);
      }
      pushed.emplace_back("request_uri", uri);
      flow->req.params = std::move(pushed);
      flow->pushed = true;
    };
    if (!flow->req.post) {
      return OpenPushedRequest(
          directory_, flow->ctx(), uri, client_id, options_.pending_sign_in_seconds * 1000,
          [this, flow, with](Result<Params> pushed) {
            if (!pushed.ok()) {
              return flow->Respond(
                  ErrorPage("The request_uri is unknown, expired or used already."));
            }
            with(std::move(*pushed));
            AuthorizeRequest(flow);
          });
    }
    auto pushed = ReadPushedRequest(directory_, flow->ctx(), uri, client_id);
    if (!pushed.ok()) {
      return flow->Respond(ErrorPage("The request_uri is unknown, expired or used already."));
    }
    with(std::move(*pushed));
  }
  AuthorizeRequest(flow);
}

void SignInPages::AuthorizeRequest(std::shared_ptr<Flow> flow) const {
  std::string client_id = flow->Get("client_id");
  if (client_id.empty()) return flow->Respond(ErrorPage("The request has no client_id."));
  auto client = directory_->FindClient(flow->ctx(), client_id);
  if (!client.ok()) {
    return flow->Respond(ErrorPage("The application '" + client_id.substr(0, 64) +
                                   "' is not registered in this organization, or is disabled."));
  }
  flow->redirect_uri = flow->Get("redirect_uri");
  const directory::Object& app = client->application;
  auto platform = RedirectUriPlatform(app, flow->redirect_uri);
  flow->public_client = platform && *platform != "web";
  if (flow->redirect_uri.empty() || !platform) {
    return flow->Respond(ErrorPage(
        "The redirect URI is not one the application registered (it must match exactly)."));
  }
  flow->call->client = AuthenticatedClient{std::move(*client), client_id, ClientAuthMethod::kNone};
  flow->return_origin = OriginOf(flow->redirect_uri);
  flow->state = flow->Get("state");
  flow->response_mode = flow->Get("response_mode");
  std::string iss = tokens_->Issuer(flow->call->tenant.id);

  // From here on the application hears of errors (RFC 6749 section 4.1.2.1).
  auto refuse = [&](std::string error, std::string description) {
    ReturnToApp(*flow, {{"error", std::move(error)}, {"error_description", std::move(description)}},
                iss);
  };
  if (flow->response_mode.empty()) flow->response_mode = "query";
  if (flow->response_mode != "query" && flow->response_mode != "fragment" &&
      flow->response_mode != "form_post") {
    flow->response_mode = "query";
    return refuse("invalid_request", "response_mode must be query, fragment or form_post.");
  }
  if (flow->Get("response_type") != "code") {
    return refuse("unsupported_response_type", "Only response_type=code is served.");
  }
  auto scopes = ParseScopes(flow->Get("scope"), tokens_->issuer().graph());
  if (!scopes.ok()) return refuse("invalid_scope", scopes.status().message());
  std::string challenge = flow->Get("code_challenge"), method = flow->Get("code_challenge_method");
  if (!challenge.empty() && method != "S256") {
    return refuse("invalid_request", "code_challenge_method must be S256 (plain is refused).");
  }
  if (challenge.empty() && !method.empty()) {
    return refuse("invalid_request", "code_challenge_method was sent without a code_challenge.");
  }
  if (challenge.empty() && flow->public_client) {
    return refuse("invalid_request", "A public client must use PKCE (code_challenge, S256).");
  }
  std::string prompt = flow->Get("prompt");
  for (size_t pos = 0; pos < prompt.size();) {
    size_t end = std::min(prompt.find(' ', pos), prompt.size());
    if (end > pos) flow->prompt.insert(prompt.substr(pos, end - pos));
    pos = end + 1;
  }
  for (const std::string& p : flow->prompt) {
    if (p != "none" && p != "login" && p != "select_account" && p != "consent") {
      return refuse("invalid_request",
                    "prompt '" + p.substr(0, 32) +
                        "' is not served (none, login, select_account and consent are).");
    }
  }
  if (flow->prompt.count("none") && flow->prompt.size() > 1) {
    return refuse("invalid_request", "prompt=none cannot be combined with another prompt.");
  }
  if (flow->pushed) {
    flow->carried = {"client_id", "request_uri"};
  } else {
    flow->carried.assign(std::begin(kCarried), std::end(kCarried));
  }
  flow->intro = "<p>to continue to <strong>" +
                web::Escape(Str(flow->call->client.client.application.data, "displayName")) +
                "</strong></p>";
  flow->scope = flow->Get("scope");
  flow->then = [this](std::shared_ptr<Flow> f, SignedIn in) {
    IssueCode(std::move(f), std::move(in));
  };
  flow->refuse = [iss](std::shared_ptr<Flow> f, std::string error, std::string description,
                       std::vector<std::pair<std::string, std::string>> headers) {
    ReturnToApp(*f, {{"error", std::move(error)}, {"error_description", std::move(description)}},
                iss, std::move(headers));
  };
  if (flow->req.post) {
    if (!CsrfOk(*flow)) return ShowSignIn(flow, "The sign-in form expired. Sign in again.");
    // "continue" follows the recovery codes' page: the session it started goes on below.
    std::string step = flow->Get("step");
    if (step == "consent" || step == "noconsent") return GrantConsent(flow);
    if (step != "continue") {
      if (!SignInStep(flow, step)) SignIn(flow);
      return;
    }
  }

  // An SSO session skips the password unless the application asks for it again; the session
  // the recovery codes' page ("continue") follows was started by this very sign-in.
  bool resumed = flow->req.post;  // only "continue" gets here by a post
  if (resumed || (!flow->prompt.count("login") && !flow->prompt.count("select_account"))) {
    auto session = Session(*flow);
    std::string hint = flow->Get("login_hint");
    if (session && (resumed || hint.empty() || EqualsIgnoreCase(hint, session->login))) {
      return Consent(flow, std::move(*session));
    }
  }
  if (flow->prompt.count("none")) {
    return refuse("login_required", "The user is not signed in, and prompt=none was asked.");
  }
  ShowSignIn(flow, "");
}

void SignInPages::IssueCode(std::shared_ptr<Flow> flow, SignedIn in) const {
  if (flow->pushed) {
    // The pushed request is spent with its code: of two sign-ins with one, one goes on.
    std::string uri = flow->Get("request_uri"), client = flow->call->client.app_id;
    flow->pushed = false;
    return SpendPushedRequest(directory_, flow->ctx(), uri, client,
                              [this, flow, in = std::move(in)](Status spent) mutable {
                                if (!spent.ok()) {
                                  return ReturnToApp(
                                      *flow,
                                      {{"error", "invalid_request"},
                                       {"error_description", "The request_uri was used already."}},
                                      tokens_->Issuer(flow->call->tenant.id),
                                      SessionHeaders(*flow, in));
                                }
                                IssueCode(flow, std::move(in));
                              });
  }
  auto headers = SessionHeaders(*flow, in);
  CodeGrant grant{flow->call->client.app_id, flow->redirect_uri, flow->Get("scope"),
                  std::move(in.user_id),     flow->Get("nonce"), flow->Get("code_challenge"),
                  in.auth_time_ms,           std::move(in.amr)};
  codes_.Issue(flow->ctx(), std::move(grant), flow->Get("code_challenge_method"),
               [this, flow, headers = std::move(headers)](Result<std::string> code) mutable {
                 std::string iss = tokens_->Issuer(flow->call->tenant.id);
                 if (!code.ok()) {
                   return ReturnToApp(*flow,
                                      {{"error", "server_error"},
                                       {"error_description", "The code could not be issued."}},
                                      iss, std::move(headers));
                 }
                 ReturnToApp(*flow, {{"code", *code}}, iss, std::move(headers));
               });
}

}  // namespace meridian::auth
