// The device flow's verification page (RFC 8628 section 3.3): the user enters the code the
// device shows, is told which application asks and confirms it (a code someone else sent is how
// device-code phishing works, so the page says so), signs in unless a session is there, and the
// device's authorization is approved (auth/device_codes.h). Each step is a form post naming it
// ("code", "confirm", "deny", then the sign-in's "password" and "newpassword"), carrying the user
// code, so the page keeps no state of its own: the code's record says which client asks.
#include <boost/json.hpp>

#include "auth/scopes.h"
#include "auth/sign_in_flow.h"
#include "auth/token_issuer.h"
#include "auth/token_service.h"
#include "directory/records.h"
#include "web/csrf.h"
#include "web/html.h"

namespace meridian::auth {
using directory::Str;

namespace {

std::string AppName(const SignInPages::Flow& flow) {
  return web::Escape(Str(flow.call->client.client.application.data, "displayName"));
}

}  // namespace

void SignInPages::DeviceLogin(PageRequest request, std::function<void(PageResponse)> done) const {
  auto flow = Begin(std::move(request), std::move(done), "devicelogin");
  if (!flow) return;
  flow->carried = {"user_code"};
  flow->then = [this](std::shared_ptr<Flow> f, SignedIn in) {
    ApproveDevice(std::move(f), std::move(in));
  };
  // An error ends the device's authorization: it is denied, and the page says why.
  flow->refuse = [this](std::shared_ptr<Flow> f, std::string, std::string description,
                        std::vector<std::pair<std::string, std::string>> headers) {
    devices_.Answer(f->ctx(), f->Get("user_code"), false, {},
                    [f, description, headers = std::move(headers)](Status) mutable {
                      PageResponse out = HtmlPage("Sign-in cancelled", description, "");
                      for (auto& h : headers) out.headers.push_back(std::move(h));
                      f->Respond(std::move(out));
                    });
  };
  if (!flow->req.post) return ShowCodeEntry(flow, "");
  if (!CsrfOk(*flow)) return ShowCodeEntry(flow, "The page expired. Enter the code again.");
  DeviceStep(flow);
}

void SignInPages::ShowCodeEntry(std::shared_ptr<Flow> flow, std::string error) const {
  std::string content =
      "<p>Enter the code that your device or application shows.</p>"
      "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
      Hidden("csrf", web::CsrfToken(csrf_key_, flow->form_cookie, flow->Purpose())) +
      Hidden("step", "code") +
      "<label for=\"user_code\">Code</label>"
      "<input id=\"user_code\" name=\"user_code\" type=\"text\" autocomplete=\"one-time-code\" "
      "autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"16\" required value=\"" +
      web::Escape(flow->Get("user_code").substr(0, 16)) + "\">"
      "<button type=\"submit\">Next</button></form>";
  flow->Respond(HtmlPage("Enter code", std::move(error), content));
}

void SignInPages::DeviceStep(std::shared_ptr<Flow> flow) const {
  devices_.Describe(flow->ctx(), flow->Get("user_code"), [this, flow](Result<DeviceApproval> a) {
    if (!a.ok()) {
      if (a.status().code() != Code::kNotFound) {
        return ShowCodeEntry(flow, std::string(kUnavailable));
      }
      return ShowCodeEntry(flow,
                           "That code is not valid, or has expired. Check the code your device "
                           "shows, or start again on the device.");
    }
    auto client = directory_->FindClient(flow->ctx(), a->client_id);
    if (!client.ok()) {
      return ShowCodeEntry(flow, "The application that asked is no longer available.");
    }
    flow->call->client =
        AuthenticatedClient{std::move(*client), a->client_id, ClientAuthMethod::kNone};
    flow->intro = "<p>to sign in to <strong>" + AppName(*flow) + "</strong> on your device</p>";
    flow->scope = a->scope;
    std::string step = flow->Get("step");
    if (SignInStep(flow, step)) return;
    if (step == "consent" || step == "noconsent") return GrantConsent(flow);
    if (step == "deny") {
      return devices_.Answer(flow->ctx(), flow->Get("user_code"), false, {},
                             [flow](Status answered) {
                               flow->Respond(HtmlPage("Sign-in cancelled", "",
                                   "<p>Nothing was signed in. You can close this window.</p>"));
                             });
    }
    auto session = Session(*flow);
    if (step == "confirm" || step == "continue") {  // continue: after the recovery codes' page
      if (session) return Consent(flow, std::move(*session));
      return ShowSignIn(flow, "");
    }
    // The code is valid: which application asks, and who would sign in.
    std::string who = session ? "<p>You are signed in as <strong>" +
                                    web::Escape(session->login) + "</strong>.</p>"
                              : "";
    std::string content =
        "<p>Are you trying to sign in to <strong>" + AppName(*flow) + "</strong>?</p>" + who +
        "<p>Only continue if you started this sign-in yourself, just now, on a device you own. "
        "If someone sent you this code, cancel: they are trying to get into your account.</p>"
        "<form method=\"post\" action=\"" + web::Escape(flow->action) + "\">" +
        Hidden("csrf", web::CsrfToken(csrf_key_, flow->form_cookie, flow->Purpose())) +
        Hidden("user_code", flow->Get("user_code")) +
        "<button type=\"submit\" name=\"step\" value=\"confirm\">Continue</button>"
        "<button type=\"submit\" name=\"step\" value=\"deny\">Cancel</button></form>";
    flow->Respond(HtmlPage("Confirm the sign-in", "", content));
  });
}

void SignInPages::ApproveDevice(std::shared_ptr<Flow> flow, SignedIn in) const {
  auto headers = SessionHeaders(*flow, in);
  DeviceApproval approval{flow->call->client.app_id, "", in.user_id, in.auth_time_ms, in.amr};
  devices_.Answer(
      flow->ctx(), flow->Get("user_code"), true, std::move(approval),
      [this, flow, headers = std::move(headers)](Status answered) mutable {
        PageResponse out =
            answered.ok()
                ? HtmlPage("You're signed in", "",
                           "<p>You have signed in to <strong>" + AppName(*flow) +
                               "</strong> on your device. You can close this window.</p>")
                : HtmlPage("Enter code",
                           answered.code() == Code::kNotFound
                               ? "That code was used or has expired. Start again on the device."
                               : std::string(kUnavailable),
                           "");
        for (auto& h : headers) out.headers.push_back(std::move(h));
        flow->Respond(std::move(out));
      });
}

}  // namespace meridian::auth
