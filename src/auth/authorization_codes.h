// Authorization codes (RFC 6749 section 4.1) with PKCE (RFC 7636, S256 only): what the authorize
// endpoint hands the browser after a sign-in, and the token endpoint redeems once. A code is 32
// random bytes (base64url); it is kept as a grant of kind kAuthorizationCodeGrant
// (directory/grants.h) under its hash, with everything the redemption must match and the tokens
// must carry, for 10 minutes. A redemption marks it redeemed by check-and-set: of concurrent
// redemptions of one code exactly one succeeds, and a code presented again is refused.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/status.h"
#include "directory/grants.h"

namespace meridian::auth {

// What a code stands for: the request it answers and the sign-in behind it.
struct CodeGrant {
  std::string client_id;     // appId
  std::string redirect_uri;  // exactly as the authorization request gave it
  std::string scope;
  std::string user_id;
  std::string nonce;           // echoed in the ID token
  std::string code_challenge;  // empty: the request used no PKCE
  int64_t auth_time_ms = 0;
  std::vector<std::string> amr;
};

inline constexpr int64_t kCodeLifetimeMs = 10 * 60'000;

class AuthorizationCodes {
 public:
  // `store` and `random` must outlive it.
  AuthorizationCodes(directory::GrantStore* store, Random* random);

  // Keeps `grant` under a new code and gives the code to `done`. `challenge_method` is the
  // request's code_challenge_method: S256, or empty without a challenge (the default method,
  // plain, is refused: InvalidArgument with graph_code "invalid_request").
  void Issue(const directory::SecurityContext& ctx, CodeGrant grant,
             std::string_view challenge_method, std::function<void(Result<std::string>)> done);

  // Redeems `code` for client `client_id` at `redirect_uri` with `code_verifier` (empty when the
  // request sent none). kUnauthenticated with graph_code "invalid_grant" for a code that is
  // unknown, expired, redeemed already, of another client or redirect URI, or whose PKCE check
  // fails: a challenge without the matching verifier, or a verifier where no challenge was made
  // (a downgrade).
  void Redeem(const directory::SecurityContext& ctx, std::string_view code,
              std::string_view client_id, std::string_view redirect_uri,
              std::string_view code_verifier, std::function<void(Result<CodeGrant>)> done);

  // The S256 challenge of `verifier` (RFC 7636 section 4.2).
  static std::string Challenge(std::string_view verifier);

 private:
  directory::GrantStore* const store_;
  Random* const random_;
};

}  // namespace meridian::auth
