// Validation of a client's create or PATCH body against a type's schema: unknown properties,
// read-only ones, wrong JSON types, bad enumeration values and missing required properties are
// refused with Graph's messages. Type-specific rules (UPN domains, passwords, group kinds) live in
// directory.cc, where the tenant's state is at hand.
#pragma once

#include <boost/json/object.hpp>

#include "common/status.h"
#include "directory/schema.h"

namespace meridian::directory {

// Copies the body's properties into `data` under their schema names, on top of what `data`
// already holds (the stored object, for a PATCH). A JSON null removes the property.
Status ApplyBody(const TypeSchema& type, const boost::json::object& body, bool create,
                 boost::json::object* data);

// Fails when a property marked kRequired is missing from `data`.
Status CheckRequired(const TypeSchema& type, const boost::json::object& data);

// Password policy of cloud accounts: 8 to 256 characters, three of the four character classes.
Status CheckPasswordComplexity(std::string_view password);

// Redirect URIs: absolute, https (or http on a loopback host); `allow_custom_scheme` for public
// clients (mobile and desktop apps).
Status CheckRedirectUris(const boost::json::value& uris, bool allow_custom_scheme);

}  // namespace meridian::directory
