// Cookies of the sign-in pages: reading a request's Cookie header and writing Set-Cookie with
// the attributes a session cookie needs (RFC 6265bis).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::web {

// The value of cookie `name` in a Cookie header ("a=1; b=2"); nullopt when absent. The first of
// several of that name wins (the most specific path, as browsers order them).
std::optional<std::string> CookieValue(std::string_view cookie_header, std::string_view name);

struct CookieOptions {
  std::string path = "/";
  int64_t max_age_seconds = -1;  // -1: a session cookie (until the browser closes); 0 deletes
  // Lax: sent on a top-level navigation from another site (a redirect to /authorize), not on a
  // cross-site POST or a subrequest. None would let other sites' forms carry it.
  std::string same_site = "Lax";
};

// A Set-Cookie header value: always Secure and HttpOnly (no page script reads it). `name` and
// `value` must be cookie-safe (base64url is).
std::string SetCookie(std::string_view name, std::string_view value, const CookieOptions& options);

}  // namespace meridian::web
