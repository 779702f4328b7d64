// The password policy of cloud accounts, as Microsoft Entra ID documents it, checked wherever a
// password is set: user creation, a password reset through passwordProfile, a new tenant's first
// administrator and the operator's break-glass administrator (whose passwords are generated to
// satisfy it).
//
// From "Password policies and account restrictions in Microsoft Entra ID":
//   - characters: A-Z, a-z, 0-9, the symbols @ # $ % ^ & * - _ ! + = [ ] { } | \ : ' , . ? / ` ~
//     " ( ) ; < > and the space, that is printable ASCII; no other (Unicode) character;
//   - 8 to 256 characters;
//   - three of the four kinds: lower case, upper case, digits, symbols.
// From "Eliminate bad passwords using Microsoft Entra Password Protection", on the password
// normalized (lower case; 0->o, 1->l, $->s, @->a):
//   - the user's names and the organization's name, where at least four characters long, must not
//     appear in it (substring matching; Entra checks first and last name and the tenant name, and
//     this adds the display name's words and the userPrincipalName's local part);
//   - banned terms (kBannedTerms in the .cc: the base words of the most common passwords, and the
//     years 1950 to 2039) are found with fuzzy matching (edit distance one; terms of four
//     characters exactly) and the password scored: one point per banned term found, one per
//     other character; fewer than five points is refused.
//
// Stateless functions, safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/random.h"
#include "common/status.h"

namespace meridian::directory {

// Whose password it is: the words it must not contain.
struct PasswordOwner {
  std::vector<std::string> names;  // givenName, surname, displayName, userPrincipalName
  std::string organization;        // the tenant's displayName
};

// The owner described by a user's Graph properties in the tenant called `organization`.
PasswordOwner PasswordOwnerOf(const boost::json::object& user, std::string_view organization);

// The checks that need nothing but the password: characters, length, kinds, banned terms. Fails
// with InvalidArgument ("Request_BadRequest", Graph's message for a password that does not
// comply, and why).
Status CheckPasswordPolicy(std::string_view password);
// The check of the owner's names alone. Fails as above.
Status CheckPasswordNames(std::string_view password, const PasswordOwner& owner);
// Every check: both of the above.
Status CheckPasswordPolicy(std::string_view password, const PasswordOwner& owner);

// The password normalized as Password Protection does before matching (see above).
std::string NormalizePassword(std::string_view password);
// The score of `password` against the banned terms (see above): the fewest points any reading of
// the normalized password as banned terms and other characters gives. Accepted from 5.
int BannedTermScore(std::string_view password);
// The banned terms, normalized (each at least four characters).
const std::vector<std::string>& BannedTerms();

// A random 16-character password, four of each kind (without the look-alikes I, O, l, 0 and 1),
// that satisfies the policy for `owner`: drawn again when one does not. Internal if 100 draws
// in a row do not, which only a broken Random can cause.
Result<std::string> GeneratePassword(Random* random, const PasswordOwner& owner);

}  // namespace meridian::directory
