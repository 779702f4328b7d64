// TokenService: the OAuth 2.0 / OpenID Connect authority. Its token endpoint is organised by
// grant (auth/grant.h): it resolves the tenant, authenticates the client
// (auth/client_authentication.h) and hands the request to the grant registered for its
// grant_type, which answers through TokenIssuer (auth/token_issuer.h). It publishes discovery
// metadata (built from the registry, so it names exactly what is served) and JWKS, and turns a
// bearer token presented to the Graph API back into a SecurityContext. Stateless apart from the
// signing keys, which it loads from the directory, where they are stored sealed under the
// operator's key-encryption key (crypto/sealed.h); single-use state (codes, refresh tokens,
// assertion ids) is the directory's (directory/grants.h).
//
// Keys rotate on the schedule of auth/key_schedule.h, read from the injected clock: which key
// signs and which are published follows the clock alone, while Refresh (run periodically by the
// server) loads keys other processes made and makes the next key when it is due. A token naming
// a key not loaded yet reloads the keys at once, at most every key_miss_reload_seconds.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include <boost/json/object.hpp>

#include "auth/grant.h"
#include "auth/key_schedule.h"
#include "auth/oauth_errors.h"
#include "common/bounded_cache.h"
#include "common/status.h"
#include "crypto/jwt.h"
#include "crypto/sealed.h"
#include "directory/api.h"

namespace meridian::auth {

struct TokenServiceOptions {
  // Base of every URL this deployment publishes, e.g. "https://localhost:8443".
  std::string public_url;
  // The application id URI of the Graph API resource; tokens for it carry it as "aud" and are
  // requested with the scope "<uri>/.default".
  std::string graph_resource = "https://graph.meridian.test";
  // The Graph resource's well-known application id, accepted in scopes as well.
  std::string graph_app_id = "00000003-0000-0000-c000-00000000d1a0";
  int64_t access_token_lifetime_seconds = 3600;
  int64_t id_token_lifetime_seconds = 3600;
  int64_t clock_skew_seconds = 300;
  // Signing-key rotation: a new key signs every rotation period and is published this long
  // before; a key that stopped signing stays published for the token lifetime plus the clock
  // skew. Every process of a deployment must use the same values.
  int64_t key_rotation_period_seconds = 30 * 86400;
  int64_t key_publish_ahead_seconds = 2 * 86400;
  // A token naming a key not loaded here reloads the keys, at most this often.
  int64_t key_miss_reload_seconds = 5;
};

class ClientAuthenticator;
class DeviceCodes;
class RefreshTokens;
class TokenIssuer;

class TokenService {
 public:
  // `directory` must outlive the service; `kek` opens the stored keys and seals new ones.
  TokenService(directory::ClientDirectory* directory, crypto::Kek kek, TokenServiceOptions options);
  ~TokenService();

  // Refresh, then fails unless a key can sign: a new deployment's first key is made here.
  // InvalidArgument for a bad schedule in the options; FailedPrecondition when a stored key is
  // sealed under another KEK (the message names both); Internal when one cannot be opened or
  // decoded; kUnavailable when the first key cannot be written here (a cluster node that is not
  // the global partition's primary: retry once the primary has made it).
  Status Start();
  // Loads the keys other processes stored (a key already loaded is not opened again), seals
  // those an earlier version stored in plaintext, and makes the next key when the schedule says
  // it is due. A process that loses the race to make it (FailedPrecondition from the directory)
  // or cannot write the global partition (kUnavailable) loads the winner's instead, now or at a
  // later Refresh. Fails as Start does, or with the directory's error when the due key cannot be
  // stored; the keys in use stay loaded whatever fails.
  Status Refresh();

  const TokenServiceOptions& options() const { return options_; }
  // Ok when a signing key is loaded (for readiness).
  Status CheckHealth() const;
  std::string Issuer(std::string_view tenant_id) const;

  // The token endpoint: answers `request` through `done` (exactly once, on this thread or a
  // directory write's) with the JSON token response or an OAuth error.
  void Token(TokenRequest request, TokenDone done) const;
  // The device authorization endpoint (RFC 8628 section 3.1): starts a device code flow for a
  // public client (one that allows public client flows, isFallbackPublicClient) and answers with
  // the codes and the verification page (auth/sign_in_pages.h), or an OAuth error.
  void DeviceAuthorization(TokenRequest request, TokenDone done) const;
  // The pushed authorization request endpoint (RFC 9126, auth/pushed_requests.h): keeps the
  // authorization request of an authenticated client (or a public one) and answers its
  // request_uri and lifetime (HTTP 201), or an OAuth error.
  void PushAuthorizationRequest(TokenRequest request, TokenDone done) const;
  // Token, waiting for the answer: for tests and tools. `basic_auth` is an Authorization header.
  TokenResult Token(std::string_view tenant,
                    const std::vector<std::pair<std::string, std::string>>& form,
                    std::optional<std::string_view> basic_auth) const;

  // The tenant `tenant` (id or verified domain) and the token service's context in it, for the
  // request `request_id`: what the sign-in pages act with. NotFound for an unknown tenant.
  Result<std::pair<directory::TenantInfo, directory::SecurityContext>> TenantContext(
      std::string_view tenant, std::string request_id) const;
  const TokenIssuer& issuer() const { return *issuer_; }

  // Signs `claims` with the key that signs now. Internal when none is loaded.
  Result<std::string> Sign(const boost::json::object& claims) const;

  // OpenID Provider metadata for a tenant (by id or verified domain): only what this service
  // serves (grant types, client authentication methods, scopes and token claims). NotFound when
  // the tenant is unknown.
  Result<boost::json::object> Discovery(std::string_view tenant) const;
  // The scopes discovery names: OpenID Connect's and "<graph_resource>/.default".
  std::vector<std::string> Scopes() const;
  // The published keys (auth/key_schedule.h) now: the one signing, one made ahead of its time,
  // and those whose tokens may not have expired yet.
  boost::json::object Jwks() const;
  // The kid of the key that signs now; empty when none is loaded.
  std::string SigningKid() const;

  // Validates a bearer token for the Graph resource: signature by a published key, algorithm
  // (RS256 only), time claims (exp required; exp, nbf and iat NumericDates), audience,
  // tenant id and issuer.
  // Unauthenticated, with a message naming the failed check, on any failure; never throws,
  // whatever the token holds. Whether the tenant and principal still exist is for the caller,
  // which reads them anyway.
  Result<directory::SecurityContext> Authenticate(std::string_view authorization_header) const;

  // The claims of an ID token this service signed for tenant `tenant_id`: its signature by a
  // published key and its issuer are checked, not its times (a logout's id_token_hint may have
  // expired). Unauthenticated otherwise.
  Result<boost::json::object> IdTokenHint(std::string_view tenant_id, std::string_view token) const;

  // The delegated permissions (scp) of a token Authenticate accepts; empty for an application's.
  Result<std::set<std::string>> DelegatedScopes(std::string_view authorization_header) const;

  // The UserInfo endpoint (OpenID Connect Core section 5.3): the claims about the user of a
  // user's access token issued with the openid scope (sub as its ID token gives it, name,
  // given_name, family_name, email, preferred_username). Unauthenticated with graph_code
  // "invalid_token" otherwise, or for a user who no longer signs in.
  Result<boost::json::object> UserInfo(std::string_view authorization_header) const;

 private:
  struct Loaded;
  struct KeyView;
  // The schedule's view of the loaded keys at `now_ms`: computed when the time passes the
  // current view's bounds or the keys change, shared until then.
  std::shared_ptr<const KeyView> View(int64_t now_ms) const;
  // Reads every stored key and opens those not loaded yet. Requires refresh_mu_.
  Status ReloadLocked() const;
  // The private key of `key` sealed for its record under kek_, with a nonce drawn now (before
  // the op carrying it is logged).
  std::string SealKey(const crypto::SigningKey& key) const;
  // Seals keys stored in plaintext by an earlier version. Requires refresh_mu_.
  void SealPlaintextKeysLocked();
  // Makes the next key if it is due. Requires refresh_mu_.
  Status RotateLocked();
  // Reloads for a token naming `kid`, which the view does not publish, unless a miss reloaded
  // less than key_miss_reload_seconds ago. Whether it reloaded.
  bool ReloadOnMiss(std::string_view kid) const;

  // The checks every request to the token and device endpoints passes first: no parameter twice,
  // the tenant, the client's authentication (or none: a public client). Then `then`.
  void Admit(TokenRequest request, TokenDone done,
             std::function<void(std::shared_ptr<GrantCall>, TokenDone)> then) const;
  // The grant for `grant_type`, or null.
  Grant* FindGrant(std::string_view grant_type) const;

  directory::ClientDirectory* directory_;
  const crypto::Kek kek_;
  TokenServiceOptions options_;
  KeyPolicy policy_;
  mutable std::mutex refresh_mu_;  // one Refresh or miss reload at a time
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
  mutable std::atomic<int64_t> last_miss_reload_ms_{kNever};
  mutable std::shared_mutex mu_;  // guards keys_ and view_
  // In the schedule's order. Mutable: Authenticate reloads when a token names an unknown key.
  mutable std::vector<Loaded> keys_;
  mutable std::shared_ptr<const KeyView> view_;
  // Tokens already verified, with their expiry and scopes: a client presents the same token for
  // an hour, and the signature check is the largest cost of a small read.
  struct Verified {
    directory::SecurityContext ctx;
    int64_t exp;
    std::string scp;
  };
  // Authenticate's checks; the verified token.
  Result<Verified> Verify(std::string_view authorization_header) const;
  mutable BoundedCache<Verified> verified_{20000};

  std::unique_ptr<RefreshTokens> refresh_;
  std::unique_ptr<TokenIssuer> issuer_;
  std::unique_ptr<ClientAuthenticator> clients_;
  std::unique_ptr<DeviceCodes> devices_;
  std::vector<std::unique_ptr<Grant>> grants_;  // the registry, in discovery's order
};

}  // namespace meridian::auth
