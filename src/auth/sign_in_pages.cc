// What the sign-in pages share: the checks every page makes, the CSRF-protected forms, the
// password check and the change of a password that must change, and the SSO session.
#include "auth/sign_in_pages.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "auth/sign_in_flow.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "common/encoding.h"
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
constexpr size_t kMaxCredential = 256;

}  // namespace

PageResponse HtmlPage(std::string title, std::string error, std::string content) {
  PageResponse out;
  out.status = error.empty() ? 200 : 400;
  out.headers = web::PageHeaders();
  out.body = web::Render({std::move(title), std::move(error), std::move(content)});
  return out;
}

std::string Hidden(std::string_view name, std::string_view value) {
  return "<input type=\"hidden\" name=\"" + web::Escape(name) + "\" value=\"" +
         web::Escape(value) + "\">";
}

std::string OriginOf(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  size_t end = url.find_first_of("/?#", scheme + 3);
  return std::string(url.substr(0, end));
}

void SignInPages::Flow::Respond(PageResponse out) {
  if (!return_origin.empty()) {
    for (auto& [k, v] : out.headers) {
      if (k != "Content-Security-Policy") continue;
      size_t at = v.find("form-action 'self'");
      if (at != std::string::npos) v.insert(at + 18, " " + return_origin);
    }
  }
  if (new_form_cookie) {
    web::CookieOptions o;
    o.same_site = "Strict";
    out.headers.emplace_back("Set-Cookie", web::SetCookie(kCsrfCookie, form_cookie, o));
  }
  done(std::move(out));
}

SignInPages::SignInPages(directory::ClientDirectory* directory, const TokenService* tokens,
                         crypto::Kek kek, std::string csrf_key, SignInPagesOptions options)
    : directory_(directory),
      tokens_(tokens),
      kek_(std::move(kek)),
      csrf_key_(std::move(csrf_key)),
      options_(options),
      codes_(directory, directory->random()),
      devices_(directory, directory->random()) {}

std::string SignInPages::SessionCookie(std::string_view tenant_id) {
  return "meridian_sso_" + std::string(tenant_id);
}

PageResponse SignInPages::ErrorPage(std::string message) {
  return HtmlPage("Sign-in failed", std::move(message),
                  "<p>The sign-in request cannot be completed. Tell the developer of the "
                  "application what this page says.</p>");
}

std::shared_ptr<SignInPages::Flow> SignInPages::Begin(
    PageRequest request, std::function<void(PageResponse)> done, std::string_view page) const {
  auto flow = std::make_shared<Flow>();
  flow->req = std::move(request);
  flow->done = std::move(done);
  const PageRequest& r = flow->req;
  std::string malformed;
  std::set<std::string_view> seen;
  if (r.params.size() > kMaxParams) malformed = "The request has too many parameters.";
  for (const auto& [k, v] : r.params) {
    if (!malformed.empty()) break;
    if (!seen.insert(k).second) {
      malformed = "The parameter '" + k.substr(0, 64) + "' was given twice.";
    } else if (v.size() > kMaxParam) {
      malformed = "The parameter '" + k.substr(0, 64) + "' is too long.";
    }
  }
  if (!malformed.empty()) {
    flow->done(ErrorPage(std::move(malformed)));
    return nullptr;
  }
  auto tenant = tokens_->TenantContext(r.tenant, r.request_id);
  if (!tenant.ok()) {
    flow->done(ErrorPage("This organization was not found."));
    return nullptr;
  }
  TokenRequest log_request;
  log_request.client_ip = r.client_ip;
  log_request.user_agent = r.user_agent;
  log_request.request_id = r.request_id;
  flow->call.emplace(GrantCall{std::move(tenant->second), std::move(tenant->first),
                               std::move(log_request), AuthenticatedClient{}});
  auto form_cookie = web::CookieValue(r.cookie_header, kCsrfCookie);
  if (form_cookie && form_cookie->size() == 43) {
    flow->form_cookie = *form_cookie;
  } else {
    flow->form_cookie = Base64UrlEncode(directory_->random()->Bytes(32));
    flow->new_form_cookie = true;
  }
  flow->action = "/" + flow->call->tenant.id + "/oauth2/v2.0/" + std::string(page);
  return flow;
}

bool SignInPages::CsrfOk(const Flow& flow) const {
  // A post without the page's token: another site's, or a page from an older session.
  return !flow.new_form_cookie &&
         web::CheckCsrf(csrf_key_, flow.form_cookie, flow.Purpose(), flow.Get("csrf"));
}

std::string SignInPages::FormFields(const Flow& flow, std::string_view step) const {
  std::string fields;
  for (std::string_view name : flow.carried) {
    std::string v = flow.Get(name);
    if (!v.empty()) fields += Hidden(name, v);
  }
  fields += Hidden("csrf", web::CsrfToken(csrf_key_, flow.form_cookie, flow.Purpose()));
  return step.empty() ? fields : fields + Hidden("step", step);
}

std::optional<SignInPages::SignedIn> SignInPages::Session(const Flow& flow) const {
  auto sso = web::CookieValue(flow.req.cookie_header, SessionCookie(flow.call->tenant.id));
  if (!sso || sso->size() != 43) return std::nullopt;
  auto found = directory_->ReadGrant(flow.ctx(), directory::kSessionGrant,
                                     directory::GrantHandle(*sso));
  if (!found.ok() || !*found) return std::nullopt;
  const json::object& data = (*found)->data;
  auto user = directory_->FindUser(flow.ctx(), Str(data, "user"));  // refuses a disabled account
  if (!user.ok()) return std::nullopt;
  std::vector<std::string> amr = directory::Strings(data, "amr");
  // A session of one factor does not serve a user who must now give two (an authenticator
  // registered, or per-user MFA turned on since): the user signs in again.
  if (std::find(amr.begin(), amr.end(), "mfa") == amr.end()) {
    directory::SecurityInfo info = directory::SecurityInfoOf(user->user);
    if (info.mfa_required() || !info.totp_sealed_seed.empty()) return std::nullopt;
  }
  return SignedIn{user->user.id, Str(user->user.data, "userPrincipalName"),
                  directory::Int(data, "authTime"), std::move(amr), ""};
}

void SignInPages::ShowSignIn(std::shared_ptr<Flow> flow, std::string error) const {
  std::string fields = FormFields(*flow, "password");
  std::string login = flow->req.post ? flow->Get("username") : flow->Get("login_hint");
  std::string content =
      flow->intro + "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      fields +
      "<label for=\"username\">Email or username</label>"
      "<input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" "
      "required value=\"" + web::Escape(login) + "\">"
      "<label for=\"password\">Password</label>"
      "<input id=\"password\" name=\"password\" type=\"password\" "
      "autocomplete=\"current-password\" required>"
      "<button type=\"submit\">Sign in</button></form>";
  flow->Respond(HtmlPage("Sign in", std::move(error), content));
}

bool SignInPages::SignInStep(std::shared_ptr<Flow> flow, std::string_view step) const {
  if (step == "password") {
    SignIn(std::move(flow));
  } else if (step == "newpassword") {
    ChangePassword(std::move(flow));
  } else if (step == "mfa") {
    CheckCode(std::move(flow));
  } else if (step == "enrol") {
    Enrol(std::move(flow));
  } else {
    return false;
  }
  return true;
}

void SignInPages::SignIn(std::shared_ptr<Flow> flow) const {
  std::string login = flow->Get("username"), password = flow->Get("password");
  if (login.empty() || password.empty() || login.size() > kMaxCredential ||
      password.size() > kMaxCredential) {
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
            return ShowSignIn(flow, std::string(kUnavailable));
          }
          return ShowSignIn(flow, in.status().graph_code() == "AADSTS50053"
                                      ? "Your account is locked for a while after too many "
                                        "failed attempts. Try again later."
                                      : "Your username or password is incorrect.");
        }
        if (!in->must_change_password) return AfterPassword(flow, in->user, started_ms);
        // The password verified but must change: the next page changes it, holding a proof of
        // the old one (the hash it matched) that ChangePasswordAtSignIn accepts once.
        Status expired(Code::kUnauthenticated, "The password must be changed before signing in.",
                       "AADSTS50055");
        log.LogSignIn(*flow->call, &in->user, login, expired, {"pwd"}, true);
        Pend(flow,
             {{"stage", "newpassword"},
              {"user", in->user.id},
              {"hash", in->stored_hash},
              {"authTime", started_ms}},
             [this, flow](std::string ticket) { ShowPasswordChange(flow, ticket, ""); });
      });
}

void SignInPages::Pend(std::shared_ptr<Flow> flow, json::object state,
                       std::function<void(std::string ticket)> then) const {
  std::string ticket = Base64UrlEncode(directory_->random()->Bytes(32));
  directory::CreateGrant(directory_, flow->ctx(), directory::kPendingSignInGrant,
                         directory::GrantHandle(ticket), std::move(state),
                         options_.pending_sign_in_seconds * 1000,
                         [this, flow, ticket, then](Result<directory::Grant> kept) {
                           if (!kept.ok()) return ShowSignIn(flow, std::string(kUnavailable));
                           then(ticket);
                         });
}

std::optional<json::object> SignInPages::Pending(const Flow& flow, std::string_view stage) const {
  std::string ticket = flow.Get("ticket");
  if (ticket.size() != 43) return std::nullopt;
  auto found = directory_->ReadGrant(flow.ctx(), directory::kPendingSignInGrant,
                                     directory::GrantHandle(ticket));
  if (!found.ok() || !*found || Str((*found)->data, "stage") != stage) return std::nullopt;
  return (*found)->data;
}

void SignInPages::EndPending(std::shared_ptr<Flow> flow, std::function<void()> then) const {
  directory_->UpdateGrant(
      flow->ctx(), directory::kPendingSignInGrant, directory::GrantHandle(flow->Get("ticket")),
      [](const std::optional<directory::Grant>&, int64_t) -> Result<directory::GrantChange> {
        return directory::GrantChange{};
      },
      [then](Result<directory::Grant>) { then(); });
}

void SignInPages::ShowPasswordChange(std::shared_ptr<Flow> flow, std::string ticket,
                                     std::string error) const {
  std::string fields = FormFields(*flow, "newpassword") + Hidden("ticket", ticket);
  std::string content =
      "<p>You need to choose a new password before you continue. It must have 8 to 256 "
      "characters and three of: lower case letters, upper case letters, digits, symbols. It must "
      "not contain your name or a common word.</p>"
      "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" + fields +
      "<input type=\"hidden\" name=\"username\" autocomplete=\"username\" value=\"" +
      web::Escape(flow->Get("username")) + "\">"
      "<label for=\"new_password\">New password</label>"
      "<input id=\"new_password\" name=\"new_password\" type=\"password\" "
      "autocomplete=\"new-password\" minlength=\"8\" maxlength=\"256\" required>"
      "<label for=\"confirm_password\">Confirm the new password</label>"
      "<input id=\"confirm_password\" name=\"confirm_password\" type=\"password\" "
      "autocomplete=\"new-password\" required>"
      "<button type=\"submit\">Change password and sign in</button></form>";
  flow->Respond(HtmlPage("Update your password", std::move(error),
                         content));
}

void SignInPages::ChangePassword(std::shared_ptr<Flow> flow) const {
  std::string ticket = flow->Get("ticket");
  auto pending = Pending(*flow, "newpassword");
  if (!pending) return ShowSignIn(flow, "The time to change your password ran out. Sign in again.");
  std::string fresh = flow->Get("new_password");
  if (fresh.empty() || fresh.size() > kMaxCredential) {
    return ShowPasswordChange(flow, ticket, "Enter a new password of 8 to 256 characters.");
  }
  if (fresh != flow->Get("confirm_password")) {
    return ShowPasswordChange(flow, ticket, "The two passwords are not the same.");
  }
  std::string user_id = Str(*pending, "user");
  int64_t auth_time_ms = directory::Int(*pending, "authTime");
  directory_->ChangePasswordAtSignIn(
      flow->ctx(), user_id, Str(*pending, "hash"), fresh,
      [this, flow, ticket, user_id, auth_time_ms](Status changed) {
        if (changed.code() == Code::kInvalidArgument) {
          return ShowPasswordChange(flow, ticket, changed.message());
        }
        if (changed.code() == Code::kFailedPrecondition) {
          return ShowSignIn(flow, "Your password was changed meanwhile. Sign in again.");
        }
        if (!changed.ok()) return ShowSignIn(flow, std::string(kUnavailable));
        // The proof is spent (the hash it holds is no longer stored); it is deleted all the same.
        EndPending(flow, [this, flow, user_id, auth_time_ms] {
          auto user = directory_->FindUser(flow->ctx(), user_id);
          if (!user.ok()) return ShowSignIn(flow, std::string(kUnavailable));
          AfterPassword(flow, user->user, auth_time_ms);
        });
      });
}

void SignInPages::StartSession(std::shared_ptr<Flow> flow, const directory::Object& user,
                               int64_t auth_time_ms, std::vector<std::string> amr,
                               std::vector<std::string> recovery_codes) const {
  tokens_->issuer().LogSignIn(*flow->call, &user, Str(user.data, "userPrincipalName"),
                              Status::Ok(), amr, true);
  std::string secret = Base64UrlEncode(directory_->random()->Bytes(32));
  json::object data{{"user", user.id},
                    {"authTime", auth_time_ms},
                    {"amr", directory::StringArray(amr)}};
  SignedIn in{user.id, Str(user.data, "userPrincipalName"), auth_time_ms, std::move(amr), secret};
  directory::CreateGrant(
      directory_, flow->ctx(), directory::kSessionGrant, directory::GrantHandle(secret),
      std::move(data), options_.session_lifetime_seconds * 1000,
      [this, flow, in = std::move(in), codes = std::move(recovery_codes)](
          Result<directory::Grant> kept) mutable {
        if (!kept.ok()) return ShowSignIn(flow, std::string(kUnavailable));
        if (codes.empty()) return Consent(flow, std::move(in));
        ShowRecoveryCodes(flow, in, codes);
      });
}

std::vector<std::pair<std::string, std::string>> SignInPages::SessionHeaders(
    const Flow& flow, const SignedIn& in) const {
  if (in.new_session.empty()) return {};
  web::CookieOptions o;
  o.max_age_seconds = options_.session_lifetime_seconds;
  return {{"Set-Cookie", web::SetCookie(SessionCookie(flow.call->tenant.id), in.new_session, o)}};
}

}  // namespace meridian::auth
