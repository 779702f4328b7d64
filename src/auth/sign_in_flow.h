// The state of one request to the sign-in pages (auth/sign_in_pages.h), shared by the files that
// implement them. Internal to auth/.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "auth/grant.h"
#include "auth/sign_in_pages.h"

namespace meridian::auth {

struct SignInPages::Flow {
  PageRequest req;
  std::function<void(PageResponse)> done;
  // The tenant, its context and the client: for the log, codes and approvals. Set once the page
  // knows the client.
  std::optional<GrantCall> call;
  std::string form_cookie;  // the CSRF cookie's value; a new one is set on the response
  bool new_form_cookie = false;

  // The sign-in form: where it posts, the request parameters it carries over unchanged, what it
  // says under its title (HTML), and what follows a sign-in and the consent to `scope`.
  std::string action;
  std::vector<std::string_view> carried;
  std::string intro;
  std::string scope;
  std::function<void(std::shared_ptr<Flow>, SignedIn)> then;
  // How the flow tells the application of an error (OAuth's `error` and its description), with
  // `headers` (a new session's cookie) on the response. Given the flow (which it must not hold).
  std::function<void(std::shared_ptr<Flow> flow, std::string error, std::string description,
                     std::vector<std::pair<std::string, std::string>> headers)>
      refuse;

  // The origin of the application's URI the flow may end at, once checked: a form's post may be
  // answered by a redirect there, and browsers hold such redirects to the page's form-action.
  std::string return_origin;

  // The code flow's request, once checked.
  std::string redirect_uri, response_mode, state;
  std::set<std::string> prompt;
  bool public_client = false;
  bool pushed = false;  // the request's parameters are a pushed request's (RFC 9126)

  // The request's parameter `name`, or empty.
  std::string Get(std::string_view name) const {
    for (const auto& [k, v] : req.params) {
      if (k == name) return v;
    }
    return "";
  }
  const directory::SecurityContext& ctx() const { return call->ctx; }
  // The form's CSRF purpose: a token of one tenant's pages does not pass another's.
  std::string Purpose() const { return "signin:" + call->tenant.id; }
  // Answers with `out`, setting the form cookie when it is new.
  void Respond(PageResponse out);
};

inline constexpr std::string_view kUnavailable = "Sign-in is unavailable right now. Try again.";

// A page in the pages' layout, with their headers (web/html.h): 200, or 400 with an error.
PageResponse HtmlPage(std::string title, std::string error, std::string content);
// The origin (scheme://host[:port]) of an absolute URL; empty when it has none.
std::string OriginOf(std::string_view url);

// A hidden form field.
std::string Hidden(std::string_view name, std::string_view value);

}  // namespace meridian::auth
