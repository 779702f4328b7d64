// Consent on the sign-in pages (auth/sign_in_pages.h): the Graph permissions an application asks
// for that the user (or an administrator, for everyone) has not granted it yet.
#include <boost/json.hpp>

#include "auth/scopes.h"
#include "auth/sign_in_flow.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "directory/first_party.h"
#include "directory/records.h"
#include "web/html.h"

namespace meridian::auth {
namespace {

// The permissions of `scope` the user must consent to (ScopeRequest::Requested): those not
// granted yet, or all of them when `all` (prompt=consent). Only Graph's are served.
Result<std::vector<const GraphPermission*>> Missing(directory::ClientDirectory* directory,
                                                    const SignInPages::Flow& flow,
                                                    const GraphResource& graph,
                                                    std::string_view user_id, bool all) {
  MERIDIAN_ASSIGN_OR_RETURN(ScopeRequest scopes, ParseScopes(flow.scope, graph));
  std::vector<const GraphPermission*> out;
  std::vector<std::string> requested = scopes.Requested();
  if (requested.empty()) return out;
  MERIDIAN_ASSIGN_OR_RETURN(
      auto granted,
      directory->GrantedScopes(flow.ctx(), flow.call->client.client.service_principal.id,
                               directory::kGraphAppId, user_id));
  for (const std::string& name : requested) {
    if (all || !granted.count(name)) out.push_back(FindGraphPermission(name));
  }
  return out;
}

bool NeedsAdministrator(const std::vector<const GraphPermission*>& missing) {
  for (const GraphPermission* p : missing) {
    if (p->admin_consent) return true;
  }
  return false;
}

constexpr char kNeedsAdministrator[] =
    "AADSTS65001: The application asks for permissions only an administrator can grant, and no "
    "administrator has granted them.";

}  // namespace

void SignInPages::Consent(std::shared_ptr<Flow> flow, SignedIn in) const {
  bool prompt_consent = flow->prompt.count("consent") > 0;
  auto missing =
      Missing(directory_, *flow, tokens_->issuer().graph(), in.user_id, prompt_consent);
  auto headers = SessionHeaders(*flow, in);
  if (!missing.ok()) {
    return flow->refuse(flow, "server_error", "The permissions could not be read.", headers);
  }
  if (missing->empty()) return flow->then(flow, std::move(in));
  if (NeedsAdministrator(*missing)) {
    return flow->refuse(flow, "consent_required", kNeedsAdministrator, headers);
  }
  if (flow->prompt.count("none")) {
    return flow->refuse(flow, "consent_required",
                        "AADSTS65001: The user has not consented to the permissions, and "
                        "prompt=none was asked.",
                        headers);
  }
  std::string list;
  for (const GraphPermission* p : *missing) {
    list += "<li>" + web::Escape(p->description) + " <small>(" + web::Escape(p->name) +
            ")</small></li>";
  }
  std::string app = web::Escape(
      directory::Str(flow->call->client.client.application.data, "displayName"));
  std::string content =
      "<p><strong>" + app + "</strong> asks to act as <strong>" + web::Escape(in.login) +
      "</strong>. It would be able to:</p><ul>" + list +
      "</ul><p>Accept only if you trust this application. You can revoke the permissions later."
      "</p><form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      FormFields(*flow, "") +  // the buttons name the step
      "<button type=\"submit\" name=\"step\" value=\"consent\">Accept</button>"
      "<button type=\"submit\" name=\"step\" value=\"noconsent\">Cancel</button></form>";
  PageResponse out = HtmlPage("Permissions requested", "", content);
  for (auto& h : headers) out.headers.push_back(std::move(h));
  flow->Respond(std::move(out));
}

void SignInPages::GrantConsent(std::shared_ptr<Flow> flow) const {
  auto session = Session(*flow);
  if (!session) return ShowSignIn(flow, "Your sign-in ended. Sign in again.");
  if (flow->Get("step") == "noconsent") {
    return flow->refuse(flow, "access_denied", "AADSTS65004: The user declined to consent.", {});
  }
  auto missing = Missing(directory_, *flow, tokens_->issuer().graph(), session->user_id, false);
  if (!missing.ok()) return ShowSignIn(flow, std::string(kUnavailable));
  if (NeedsAdministrator(*missing)) {
    return flow->refuse(flow, "consent_required", kNeedsAdministrator, {});
  }
  std::set<std::string> names;
  for (const GraphPermission* p : *missing) names.emplace(p->name);
  if (names.empty()) return flow->then(flow, std::move(*session));
  std::string user_id = session->user_id;  // the callback below takes the session
  directory_->ConsentForUser(
      flow->ctx(), user_id, flow->call->client.client.service_principal.id,
      directory::kGraphAppId, names,
      [flow, in = std::move(*session)](Result<directory::WriteResult> kept) mutable {
        if (!kept.ok()) {
          return flow->refuse(flow, "server_error", "The consent could not be kept.", {});
        }
        flow->then(flow, std::move(in));
      });
}

}  // namespace meridian::auth
