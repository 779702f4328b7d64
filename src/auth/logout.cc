// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) on the sign-in pages
// (auth/sign_in_pages.h): the SSO session ends, and the browser goes back to the application only
// at a URI that application registered.
#include <boost/json.hpp>

#include "auth/sign_in_flow.h"
#include "auth/token_service.h"
#include "common/encoding.h"
#include "directory/records.h"
#include "web/cookies.h"
#include "web/html.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Str;

void SignInPages::Logout(PageRequest request, std::function<void(PageResponse)> done) const {
  auto flow = Begin(std::move(request), std::move(done), "logout");
  if (!flow) return;
  flow->carried = {"post_logout_redirect_uri", "state", "client_id", "id_token_hint"};

  // The application that asks: the audience of a hint this service signed, else client_id.
  std::string hint_user, client_id = flow->Get("client_id");
  if (std::string hint = flow->Get("id_token_hint"); !hint.empty()) {
    auto claims = tokens_->IdTokenHint(flow->call->tenant.id, hint);
    if (!claims.ok()) return flow->Respond(ErrorPage("The id_token_hint is not valid here."));
    std::string aud = Str(*claims, "aud");
    if (!client_id.empty() && client_id != aud) {
      return flow->Respond(ErrorPage("The id_token_hint was issued to another application."));
    }
    client_id = aud;
    hint_user = Str(*claims, "oid");
  }
  // Where the browser goes after: only a URI the application registered.
  std::string back = flow->Get("post_logout_redirect_uri");
  if (!back.empty()) {
    auto client = client_id.empty() ? Result<directory::Client>(NotFound("no client"))
                                    : directory_->FindClient(flow->ctx(), client_id);
    const directory::Object* app = client.ok() ? &client->application : nullptr;
    auto* web = app ? app->data.if_contains("web") : nullptr;
    bool logout_url = web && web->is_object() && Str(web->get_object(), "logoutUrl") == back;
    if (!app || !(logout_url || RedirectUriPlatform(*app, back))) {
      back.clear();  // not followed: the user sees the page instead
    }
  }
  flow->return_origin = OriginOf(back);

  auto session = Session(*flow);
  // The user confirms unless the application proved it is the session's (its hint names the
  // session's user): otherwise any site could sign the user out.
  bool confirmed = flow->req.post
                       ? CsrfOk(*flow)
                       : !session || (!hint_user.empty() && hint_user == session->user_id);
  if (!confirmed) {
    std::string content = "<p>Sign out of your account" +
                          (session ? " <strong>" + web::Escape(session->login) + "</strong>"
                                   : std::string()) +
                          "?</p><form method=\"post\" action=\"" + web::Escape(flow->action) +
                          "\">" + FormFields(*flow, "logout") +
                          "<button type=\"submit\">Sign out</button></form>";
    return flow->Respond(HtmlPage("Sign out", "", content));
  }

  auto finish = [this, flow, back] {
    PageResponse out;
    if (back.empty()) {
      out = HtmlPage("You signed out", "",
                     "<p>You signed out of your account. You can close this window.</p>");
    } else {
      std::string location = back, state = flow->Get("state");
      if (!state.empty()) {
        location += (back.find('?') == std::string::npos ? "?state=" : "&state=") +
                    PercentEncode(state);
      }
      out.status = 302;
      out.headers = {{"Location", location}, {"Cache-Control", "no-store"}};
    }
    web::CookieOptions o;
    o.max_age_seconds = 0;
    out.headers.emplace_back("Set-Cookie",
                             web::SetCookie(SessionCookie(flow->call->tenant.id), "", o));
    flow->Respond(std::move(out));
  };
  auto sso = web::CookieValue(flow->req.cookie_header, SessionCookie(flow->call->tenant.id));
  if (!sso || sso->size() != 43) return finish();
  // The session ends on every node: its grant is deleted.
  directory_->UpdateGrant(
      flow->ctx(), directory::kSessionGrant, directory::GrantHandle(*sso),
      [](const std::optional<directory::Grant>&, int64_t) -> Result<directory::GrantChange> {
        return directory::GrantChange{};
      },
      [this, flow, finish](Result<directory::Grant> ended) {
        if (!ended.ok()) {
          return flow->Respond(HtmlPage("Sign out", std::string(kUnavailable), ""));
        }
        finish();
      });
}

}  // namespace meridian::auth
