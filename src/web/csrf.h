// CSRF protection for the sign-in forms: a form carries a token that is the MAC of the browser's
// session cookie and the form's purpose under a deployment secret. Another site can make the
// browser post the form, with its cookie, but cannot read the token out of the page, so its post
// carries none or a wrong one. The token is bound to the session, so one stolen from another
// session is worthless, and to the purpose, so the token of one form does not pass another.
#pragma once

#include <string>
#include <string_view>

namespace meridian::web {

// The token for the form `purpose` ("signin", "consent", ...) of the session whose cookie value
// is `session`, under `key` (32 bytes or more). base64url, 43 characters.
std::string CsrfToken(std::string_view key, std::string_view session, std::string_view purpose);

// Whether `token` is that token; compared in constant time. False for an empty session or token.
bool CheckCsrf(std::string_view key, std::string_view session, std::string_view purpose,
               std::string_view token);

}  // namespace meridian::web
