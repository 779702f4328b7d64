// Rules on single string values that the schema attaches to properties (Property::check): the
// shapes of mail addresses, mail nicknames, country codes, app role and scope values, URIs and
// binary values. Each is a StringCheck: `path` names the property in the message, and a value
// that breaks the rule gets InvalidArgument with Graph's code Request_BadRequest. Messages never
// repeat a value that may be a secret; these checks are not attached to secrets.
#pragma once

#include <string_view>

#include "common/status.h"

namespace meridian::directory {

// A GUID in its 36-character form (elements of Collection(Edm.Guid) members).
Status CheckGuid(std::string_view path, std::string_view value);

// An SMTP address as Entra accepts it for mail and otherMails: ASCII, one '@', a local part of
// 1 to 64 characters from RFC 5322's atext and dots (no leading, trailing or doubled dot), and a
// domain of two or more labels of letters, digits and inner hyphens; 254 characters at most.
Status CheckEmailAddress(std::string_view path, std::string_view value);

// A mail alias (mailNickname): 1 to 64 ASCII characters, none of them a control character, a
// space or one of @ ( ) \ [ ] " ; : < > , (Graph's documented set).
Status CheckMailNickname(std::string_view path, std::string_view value);

// An ISO 3166-1 alpha-2 country code, any case (usageLocation).
Status CheckCountryCode(std::string_view path, std::string_view value);

// The value of an app role or delegated permission (the `roles` or `scp` claim): characters
// from Graph's documented set (letters, digits and : ! # $ % & ' ( ) * + , - . / ; < = > ? @ [ ]
// ^ _ ` { | } ~), no space, not empty, not starting with a dot. Its length (120 characters) is
// bounded by the schema.
Status CheckClaimValue(std::string_view path, std::string_view value);

// A redirect URI of a web or single-page app: absolute, at most 256 characters, no fragment,
// https, or http on a loopback host (localhost, 127.0.0.1, [::1]).
Status CheckRedirectUri(std::string_view path, std::string_view value);

// A redirect URI of a public client (mobile and desktop apps): as CheckRedirectUri, and also a
// custom scheme ("msal...://auth", "myapp://cb"), but never http on another host, javascript or
// data.
Status CheckPublicClientRedirectUri(std::string_view path, std::string_view value);

// An absolute http or https URL (homePageUrl).
Status CheckWebUrl(std::string_view path, std::string_view value);

// An absolute https URL (logoutUrl: Entra refuses the http scheme there).
Status CheckHttpsUrl(std::string_view path, std::string_view value);

// Edm.Binary: non-empty base64, in the standard or the URL-safe alphabet, padded or not.
Status CheckBase64(std::string_view path, std::string_view value);

}  // namespace meridian::directory
