#include "auth/authorization_codes.h"

#include <boost/json.hpp>

#include "auth/oauth_errors.h"
#include "common/encoding.h"
#include "crypto/sha.h"
#include "directory/records.h"

namespace meridian::auth {
namespace json = boost::json;
using directory::Grant;
using directory::GrantChange;
using directory::Int;
using directory::Str;
using directory::StringArray;
using directory::Strings;

namespace {

// RFC 7636 section 4.1: 43 to 128 characters of [A-Z] [a-z] [0-9] - . _ ~
bool WellFormedVerifier(std::string_view v) {
  if (v.size() < 43 || v.size() > 128) return false;
  for (char c : v) {
    if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_' && c != '~') {
      return false;
    }
  }
  return true;
}

json::object Encode(const CodeGrant& g) {
  return {{"client", g.client_id},      {"redirectUri", g.redirect_uri},
          {"scope", g.scope},           {"user", g.user_id},
          {"nonce", g.nonce},           {"challenge", g.code_challenge},
          {"authTime", g.auth_time_ms}, {"amr", StringArray(g.amr)},
          {"redeemed", false}};
}

CodeGrant Decode(const json::object& o) {
  return {Str(o, "client"), Str(o, "redirectUri"), Str(o, "scope"), Str(o, "user"),
          Str(o, "nonce"),  Str(o, "challenge"),   Int(o, "authTime"), Strings(o, "amr")};
}

}  // namespace

AuthorizationCodes::AuthorizationCodes(directory::GrantStore* store, Random* random)
    : store_(store), random_(random) {}

std::string AuthorizationCodes::Challenge(std::string_view verifier) {
  return Base64UrlEncode(crypto::Sha256(verifier));
}

void AuthorizationCodes::Issue(const directory::SecurityContext& ctx, CodeGrant grant,
                               std::string_view challenge_method,
                               std::function<void(Result<std::string>)> done) {
  if (!grant.code_challenge.empty() && challenge_method != "S256") {
    return done(Status(Code::kInvalidArgument,
                       "code_challenge_method must be S256; plain is not supported.",
                       "invalid_request"));
  }
  if (grant.code_challenge.empty() && !challenge_method.empty()) {
    return done(Status(Code::kInvalidArgument, "code_challenge_method without code_challenge.",
                       "invalid_request"));
  }
  auto raw = Base64UrlDecode(grant.code_challenge);
  if (!grant.code_challenge.empty() && (!raw || raw->size() != 32)) {
    return done(Status(Code::kInvalidArgument,
                       "code_challenge must be the base64url SHA-256 of the verifier.",
                       "invalid_request"));
  }
  std::string code = Base64UrlEncode(random_->Bytes(32));
  json::object data = Encode(grant);
  directory::CreateGrant(
      store_, ctx, directory::kAuthorizationCodeGrant, directory::GrantHandle(code),
      std::move(data), kCodeLifetimeMs, [code, done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        done(code);
      });
}

void AuthorizationCodes::Redeem(const directory::SecurityContext& ctx, std::string_view code,
                                std::string_view client_id, std::string_view redirect_uri,
                                std::string_view code_verifier,
                                std::function<void(Result<CodeGrant>)> done) {
  auto raw = Base64UrlDecode(code);
  if (!raw || raw->size() != 32) return done(InvalidGrant("The authorization code is malformed."));
  if (!code_verifier.empty() && !WellFormedVerifier(code_verifier)) {
    return done(InvalidGrant("The code_verifier is malformed."));
  }
  std::string client(client_id), redirect(redirect_uri);
  std::string challenge = code_verifier.empty() ? "" : Challenge(code_verifier);
  store_->UpdateGrant(
      ctx, directory::kAuthorizationCodeGrant, directory::GrantHandle(code),
      [=](const std::optional<Grant>& current, int64_t) -> Result<GrantChange> {
        if (!current) return InvalidGrant("The authorization code is unknown or has expired.");
        json::object data = current->data;
        if (data.at("redeemed").as_bool()) {
          return InvalidGrant("The authorization code was redeemed already.");
        }
        if (Str(data, "client") != client) {
          return InvalidGrant("The authorization code was issued to another client.");
        }
        if (Str(data, "redirectUri") != redirect) {
          return InvalidGrant("The redirect_uri differs from the authorization request's.");
        }
        std::string expected = Str(data, "challenge");
        if (expected.empty() && !challenge.empty()) {
          return InvalidGrant("A code_verifier was sent, but the request made no challenge.");
        }
        if (!expected.empty() && !crypto::ConstantTimeEquals(expected, challenge)) {
          return InvalidGrant("The code_verifier does not match the code_challenge.");
        }
        data["redeemed"] = true;
        return GrantChange{std::move(data), current->expires_ms};
      },
      [done = std::move(done)](Result<Grant> g) {
        if (!g.ok()) return done(g.status());
        done(Decode(g->data));
      });
}

}  // namespace meridian::auth
