// The directory as its clients see it: TenantDirectory is what the Graph API uses (a tenant's
// objects, always inside the tenant of a SecurityContext), ClientDirectory what the token service
// uses (tenant routing, client authentication, signing keys, time and randomness). Directory
// implements both; tests give graph/ and auth/ fakes of them (directory/testing/fakes.h).
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "authz/authz.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "directory/global_directory.h"
#include "directory/grants.h"
#include "directory/records.h"
#include "directory/schema.h"
#include "directory/security_context.h"
#include "directory/security_info.h"
#include "directory/sign_ins.h"
#include "meridian/op.pb.h"

namespace meridian::directory {

// One index range to scan; the planner's output in store terms.
struct IndexRange {
  std::string prop;  // indexed property (collections index each element)
  enum class Kind { kEq, kPrefix, kInterval } kind = Kind::kEq;
  std::string low, high;  // folded values (see IndexValue)
  bool has_low = false, has_high = false, low_inclusive = true, high_inclusive = true;
};

struct ListQuery {
  // The full filter, evaluated on every candidate; null means "everything".
  std::function<bool(const boost::json::object&)> filter;
  // Index ranges whose union contains every match; empty means "no index serves the filter".
  std::vector<IndexRange> branches;
  bool has_filter = false;
  std::string orderby;  // an indexed property, or empty for id order
  bool descending = false;
  int top = 100;
  std::string skiptoken;    // opaque, from a previous page
  std::string fingerprint;  // identifies the query, so a skip token cannot be reused elsewhere
  bool count = false;
};

struct Page {
  std::vector<Object> items;
  std::string next_skiptoken;  // empty on the last page
  std::optional<int64_t> count;
};

// What a write did: the object it wrote (for addPassword, the new credential in `object.data`;
// empty for a delete or a link) and where it committed, which a cluster node turns into the
// response's replica token.
struct WriteResult {
  Object object;
  std::string partition;
  uint64_t lsn = 0;
  uint64_t epoch = 0;
};
// Receives a write's outcome: on the caller's thread before the write call returns when the
// partition commits there (the embedded default), else later on another thread.
using WriteDone = std::function<void(Result<WriteResult>)>;

enum class LinkDirection { kOutgoing, kIncoming };  // members/owners of X, or X's memberOf

// Thread-safe implementations only.
class TenantDirectory {
 public:
  virtual ~TenantDirectory() = default;

  // Authorizes a read (kRead, kReadAudit) of objects of `type` by the caller, from its roles in
  // the latest state. Writes are authorized by the write methods themselves.
  virtual Status AuthorizeRead(const SecurityContext& ctx, authz::Action action,
                               std::string_view type) const = 0;
  virtual Result<Object> Get(const SecurityContext& ctx, const TypeSchema& type,
                             std::string_view id) const = 0;
  // Users may also be addressed by userPrincipalName, applications/service principals by appId.
  virtual Result<Object> Lookup(const SecurityContext& ctx, const TypeSchema& type,
                                std::string_view id_or_key) const = 0;
  // Any object by id, whatever its type.
  virtual Result<Object> GetDirectoryObject(const SecurityContext& ctx,
                                            std::string_view id) const = 0;
  virtual Result<Page> List(const SecurityContext& ctx, const TypeSchema& type,
                            const ListQuery& q) const = 0;
  virtual Result<int64_t> Count(const SecurityContext& ctx, const TypeSchema& type) const = 0;
  virtual Result<boost::json::object> Organization(const SecurityContext& ctx) const = 0;

  // Writes complete asynchronously (see WriteDone): each authorizes and builds its op at once,
  // on the caller's thread, and `done` runs exactly once with the outcome. Arguments need to
  // live only until the call returns.
  virtual void Create(const SecurityContext& ctx, const TypeSchema& type,
                      const boost::json::object& body, WriteDone done) = 0;
  // PATCH semantics; `if_match` is an ETag the object must still have (412 otherwise).
  virtual void Update(const SecurityContext& ctx, const TypeSchema& type, std::string_view id,
                      const boost::json::object& patch, std::optional<std::string_view> if_match,
                      WriteDone done) = 0;
  virtual void Delete(const SecurityContext& ctx, const TypeSchema& type, std::string_view id,
                      std::optional<std::string_view> if_match, WriteDone done) = 0;

  // Application credentials (Graph's addPassword / removePassword). The secret text is returned
  // once in the credential's "secretText" and only its hash is kept.
  virtual void AddPassword(const SecurityContext& ctx, std::string_view app_id,
                           const boost::json::object& body, WriteDone done) = 0;
  virtual void RemovePassword(const SecurityContext& ctx, std::string_view app_id,
                              std::string_view key_id, WriteDone done) = 0;

  // Group membership and ownership.
  virtual void AddLink(const SecurityContext& ctx, std::string_view relation,
                       const TypeSchema& source_type, std::string_view source_id,
                       std::string_view target_id, WriteDone done) = 0;
  virtual void RemoveLink(const SecurityContext& ctx, std::string_view relation,
                          const TypeSchema& source_type, std::string_view source_id,
                          std::string_view target_id, WriteDone done) = 0;
  // A user's Temporary Access Pass (directory/temporary_access_pass.h): issued (the result's
  // object holds Graph's method, with the pass shown this once), listed, deleted; each by whoever
  // may reset the user's password.
  virtual void IssueTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                        const boost::json::object& body, WriteDone done) = 0;
  virtual Result<std::vector<boost::json::object>> TemporaryAccessPasses(
      const SecurityContext& ctx, std::string_view user_id) const = 0;
  virtual void DeleteTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                         std::string_view method_id, WriteDone done) = 0;
  // A user's per-user MFA state (directory/security_info.h): read and set by whoever may reset
  // the user's password.
  virtual Result<std::string> MfaRequirement(const SecurityContext& ctx,
                                             std::string_view user_id) const = 0;
  virtual void SetMfaRequirement(const SecurityContext& ctx, std::string_view user_id,
                                 std::string state, WriteDone done) = 0;

  // Direct links (members, owners, memberOf) or, when `transitive`, the closure through nested
  // groups (transitiveMembers, transitiveMemberOf); answered from the link indexes.
  virtual Result<Page> ListLinks(const SecurityContext& ctx, std::string_view relation,
                                 LinkDirection direction, std::string_view id, bool transitive,
                                 int top, std::string_view skiptoken) const = 0;

  // Audit records of the tenant, newest first.
  virtual Result<Page> ListAudit(const SecurityContext& ctx, int top,
                                 std::string_view skiptoken) const = 0;
  // The tenant's sign-in log, newest first (directory/sign_ins.h).
  virtual Result<Page> ListSignIns(const SecurityContext& ctx, const SignInQuery& q) const = 0;
};

// A user who proved their password at sign-in.
struct PasswordSignIn {
  Object user;
  bool must_change_password = false;  // forceChangePasswordNextSignIn
  std::string stored_hash;            // what the password matched, for a re-hash
};

// The application and service principal a client authenticated as.
struct Client {
  Object application;
  Object service_principal;
};

// A user as the tokens issued to them describe them.
struct TokenUser {
  Object user;
  // The ids of the groups the user is a member of, directly or through nested groups; at most
  // kMaxTokenGroups + 1, so that a caller can tell an overage.
  std::vector<std::string> group_ids;
};
inline constexpr size_t kMaxTokenGroups = 200;  // Entra's limit for JWTs

// What the token service and the sign-in pages use: tenant routing, clients, users signing in,
// their grants (directory/grants.h) and consents, the sign-in log, signing keys, time and
// randomness. Thread-safe implementations only.
class ClientDirectory : public GrantStore {
 public:
  virtual ~ClientDirectory() = default;

  virtual Clock* clock() const = 0;
  virtual Random* random() const = 0;
  // The cloud this deployment serves ("global", "usgov", "china").
  virtual const std::string& cloud() const = 0;
  // By tenant id or any verified domain. NotFound when unknown.
  virtual Result<TenantInfo> ResolveTenant(std::string_view id_or_domain) const = 0;
  // Token-signing keys in the rotation schedule's order, newest last (directory/signing_keys.h).
  // Internal when a stored key cannot be decoded: it is never skipped. AddSigningKey logs a new
  // key, refused with FailedPrecondition unless the newest stored key is its follows_kid, or the
  // sealed form of a stored plaintext key (seals_stored).
  virtual Result<std::vector<proto::SigningKey>> SigningKeys() const = 0;
  virtual Status AddSigningKey(const proto::SigningKey& key) = 0;
  // Verifies a client secret of the application `app_id` for the token service. Returns the
  // application and its service principal; Unauthenticated on any mismatch.
  virtual Result<Client> AuthenticateClient(const SecurityContext& ctx, std::string_view app_id,
                                            std::string_view secret) const = 0;
  // The application `app_id` and its enabled service principal, with nothing proven: for public
  // clients, client assertions and the authorization endpoint. Unauthenticated with graph_code
  // "unauthorized_client" when there is no such application, or no enabled service principal.
  virtual Result<Client> FindClient(const SecurityContext& ctx, std::string_view app_id) const = 0;
  // The user `user_id` with their groups, for a token issued to them. Unauthenticated with
  // graph_code "invalid_grant" when the tenant has no such user or the account is disabled: a
  // token issued earlier (a refresh token, a code) must not outlive the account.
  virtual Result<TokenUser> FindUser(const SecurityContext& ctx, std::string_view user_id) const = 0;
  // Checks a user's password under smart lockout (Directory::SignInWithPassword).
  virtual void SignInWithPassword(const SecurityContext& ctx, std::string_view login,
                                  std::string_view password,
                                  std::function<void(Result<PasswordSignIn>)> done) = 0;
  // A user's second factors (directory/security_info.h, read from the user's record with
  // SecurityInfoOf; Directory's methods of the same names).
  virtual void RegisterTotp(const SecurityContext& ctx, std::string_view user_id,
                            std::string sealed_seed, std::vector<std::string> recovery_code_hashes,
                            WriteDone done) = 0;
  virtual void UseTotpStep(const SecurityContext& ctx, std::string_view user_id, int64_t step,
                           WriteDone done) = 0;
  virtual void UseRecoveryCode(const SecurityContext& ctx, std::string_view user_id,
                               std::string code_hash, WriteDone done) = 0;
  // Sets the new password of a user whose password must change, at an interactive sign-in
  // (Directory::ChangePasswordAtSignIn).
  virtual void ChangePasswordAtSignIn(const SecurityContext& ctx, std::string_view user_id,
                                      std::string expected_old_hash, std::string new_password,
                                      std::function<void(Status)> done) = 0;
  // The scopes of the resource whose appId is `resource_app_id` granted to client `client_sp`
  // for user `user_id` (directory/permission_grants.h), and the user's consent to more
  // (Directory's methods of the same names).
  virtual Result<std::set<std::string>> GrantedScopes(const SecurityContext& ctx,
                                                      std::string_view client_sp,
                                                      std::string_view resource_app_id,
                                                      std::string_view user_id) const = 0;
  virtual void ConsentForUser(const SecurityContext& ctx, std::string_view user_id,
                              std::string_view client_sp, std::string_view resource_app_id,
                              const std::set<std::string>& scopes, WriteDone done) = 0;
  // Logs a sign-in attempt (Directory::RecordSignIn).
  virtual void RecordSignIn(const SecurityContext& ctx, boost::json::object record,
                            WriteDone done) = 0;
};

}  // namespace meridian::directory
