// Refresh tokens with rotation and reuse detection (RFC 9700 section 4.14.2). A sign-in starts a
// family; each redemption of the family's current token replaces it with a new one; presenting a
// token the family has already replaced means two parties hold it (a leak), so the whole family
// is revoked, the current holder's token included, and every later redemption fails.
//
// A token is "<family>.<secret>" (base64url of 16 and 32 random bytes). The family is a grant of
// kind kRefreshTokenGrant (directory/grants.h) under the hash of its id, holding the hash of the
// current secret, the hashes of those it replaced, and what the tokens it yields may carry (the
// user, the client, the scopes, when and how the user signed in). Redemptions of one family are
// decided one at a time under the partition's write lock: of concurrent redemptions of one token,
// one rotates it and the others find it replaced.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>

#include "common/random.h"
#include "common/status.h"
#include "directory/grants.h"

namespace meridian::auth {

struct RefreshFamily {
  std::string user_id;
  std::string client_id;         // the application (appId) the family belongs to
  std::string scope;             // space-separated
  int64_t auth_time_ms = 0;      // when the user signed in
  std::vector<std::string> amr;  // how
};

struct RefreshPolicy {
  // A family unused this long lapses (Entra's default inactivity limit for refresh tokens).
  int64_t idle_lifetime_ms = 90LL * 86'400'000;
  // Replaced secrets remembered, to recognize a reuse.
  size_t remembered = 32;
};

// A redemption's outcome: the new token and the family it carries on.
struct Redeemed {
  std::string token;
  RefreshFamily family;
};

class RefreshTokens {
 public:
  // `store` and `random` must outlive it.
  RefreshTokens(directory::GrantStore* store, Random* random, RefreshPolicy policy = {});

  // Starts a family; `done` gets its first token.
  void Issue(const directory::SecurityContext& ctx, const RefreshFamily& family,
             std::function<void(Result<std::string>)> done);

  // Redeems `token` for client `client_id`: the new token, or kUnauthenticated with graph_code
  // "invalid_grant" when the token is malformed, unknown, lapsed, of another client, of a revoked
  // family, or replaced already (which revokes the family).
  void Redeem(const directory::SecurityContext& ctx, std::string_view token,
              std::string_view client_id, std::function<void(Result<Redeemed>)> done);

  // Revokes the family of `token` (sign-out, an administrator's revocation).
  void Revoke(const directory::SecurityContext& ctx, std::string_view token,
              std::function<void(Status)> done);

 private:
  directory::GrantStore* const store_;
  Random* const random_;
  const RefreshPolicy policy_;
};

}  // namespace meridian::auth
