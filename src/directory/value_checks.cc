#include "directory/value_checks.h"

#include <boost/url/parse.hpp>
#include <string>

#include "common/encoding.h"
#include "common/random.h"
#include "directory/regions.h"

namespace meridian::directory {
namespace {

Status Bad(std::string message) {
  return InvalidArgument(std::move(message), "Request_BadRequest");
}

std::string Quote(std::string_view path) { return "'" + std::string(path) + "'"; }

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool In(std::string_view set, char c) { return set.find(c) != std::string_view::npos; }

// A DNS name of two or more labels, each of 1 to 63 letters, digits and inner hyphens.
bool IsDomainName(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t labels = 0;
  size_t start = 0;
  while (start <= d.size()) {
    size_t dot = d.find('.', start);
    std::string_view label = d.substr(start, dot == std::string_view::npos ? d.npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!IsAlnum(c) && c != '-') return false;
    }
    ++labels;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return labels >= 2;
}

// The part of CheckRedirectUri and CheckPublicClientRedirectUri they share.
Status CheckRedirect(std::string_view path, std::string_view s, bool allow_custom_scheme) {
  // RFC 3986's absolute-URI has no fragment: parse_absolute_uri refuses one.
  auto parsed = boost::urls::parse_absolute_uri(s);
  if (!parsed || s.size() > 256) {
    return Bad("Redirect URI '" + std::string(s.substr(0, 256)) + "' in " + Quote(path) +
               " is not an absolute URI of at most 256 characters.");
  }
  std::string scheme = AsciiLower(parsed->scheme());
  std::string host = AsciiLower(parsed->host());
  bool loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
  if (scheme == "https" || (scheme == "http" && loopback)) return Status::Ok();
  if (allow_custom_scheme && scheme != "http" && scheme != "javascript" && scheme != "data") {
    return Status::Ok();
  }
  return Bad("Redirect URI '" + std::string(s) +
             "' must use https (http is allowed only for localhost).");
}

Status CheckUrl(std::string_view path, std::string_view s, bool allow_http) {
  auto parsed = boost::urls::parse_absolute_uri(s);
  std::string scheme = parsed ? AsciiLower(parsed->scheme()) : "";
  if (!parsed || parsed->host().empty() ||
      (scheme != "https" && !(allow_http && scheme == "http"))) {
    return Bad("The value of property " + Quote(path) + " must be an absolute " +
               (allow_http ? "http or https" : "https") + " URL.");
  }
  return Status::Ok();
}

}  // namespace

Status CheckGuid(std::string_view path, std::string_view s) {
  if (!IsUuid(s)) {
    return Bad("The value of property " + Quote(path) + " must be a GUID.");
  }
  return Status::Ok();
}

Status CheckEmailAddress(std::string_view path, std::string_view s) {
  auto bad = [&] {
    return Bad("The value of property " + Quote(path) + " is not a valid email address.");
  };
  size_t at = s.find('@');
  // A second '@' is refused by the character sets of both parts.
  if (s.size() > 254 || at == std::string_view::npos) {
    return bad();
  }
  std::string_view local = s.substr(0, at);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != local.npos) {
    return bad();
  }
  for (char c : local) {
    if (!IsAlnum(c) && !In(".!#$%&'*+-/=?^_`{|}~", c)) return bad();
  }
  if (!IsDomainName(s.substr(at + 1))) return bad();
  return Status::Ok();
}

Status CheckMailNickname(std::string_view path, std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return Bad("The value of property " + Quote(path) + " must have 1 to 64 characters.");
  }
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || In("@()\\[]\";:<>,", c)) {
      return Bad("The value of property " + Quote(path) +
                 " must contain only ASCII characters other than spaces and @ ( ) \\ [ ] \" ; "
                 ": < > ,");
    }
  }
  return Status::Ok();
}

Status CheckCountryCode(std::string_view path, std::string_view s) {
  if (!IsCountryCode(s)) {
    return Bad("The value of property " + Quote(path) +
               " must be an ISO 3166-1 alpha-2 country code, such as 'US'.");
  }
  return Status::Ok();
}

Status CheckClaimValue(std::string_view path, std::string_view s) {
  if (s.empty() || s.front() == '.') {
    return Bad("The value of property " + Quote(path) + " must not be empty or start with '.'.");
  }
  for (char c : s) {
    if (!IsAlnum(c) && !In(":!#$%&'()*+,-./;<=>?@[]^_`{|}~", c)) {
      return Bad("The value of property " + Quote(path) +
                 " contains a character that is not allowed: use letters, digits and "
                 ":!#$%&'()*+,-./;<=>?@[]^_`{|}~ (no spaces).");
    }
  }
  return Status::Ok();
}

Status CheckRedirectUri(std::string_view path, std::string_view s) {
  return CheckRedirect(path, s, false);
}

Status CheckPublicClientRedirectUri(std::string_view path, std::string_view s) {
  return CheckRedirect(path, s, true);
}

Status CheckWebUrl(std::string_view path, std::string_view s) { return CheckUrl(path, s, true); }

Status CheckHttpsUrl(std::string_view path, std::string_view s) { return CheckUrl(path, s, false); }

Status CheckBase64(std::string_view path, std::string_view s) {
  if (s.empty() || (!Base64Decode(s) && !Base64UrlDecode(s))) {
    return Bad("The value of property " + Quote(path) + " is not valid base64.");
  }
  return Status::Ok();
}

}  // namespace meridian::directory
