// Directory: the data-access layer. It hosts the partitions of this node (several per region in
// the embedded default) and the global tenant directory, routes each call to the partition of the
// caller's tenant, validates writes against the schema and turns them into ops, and serves reads
// from indexes. Every method that touches tenant data takes the tenant from a SecurityContext.
//
// Every write is authorized inside its partition's write lock, on the view the op is built from:
// the caller's roles and the target's are read there and handed to authz::Decide, so no change
// between the decision and the write can slip through. A refused write is audited (result
// failure) in an op of its own.
//
// Thread-safe: reads run concurrently; writes are serialized per partition.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "authz/authz.h"
#include "common/bounded_cache.h"
#include "common/clock.h"
#include "common/cpu_gate.h"
#include "common/random.h"
#include "common/status.h"
#include "crypto/password.h"
#include "directory/api.h"
#include "directory/global_directory.h"
#include "directory/grants.h"
#include "directory/lockout.h"
#include "directory/provisioning.h"
#include "directory/reads.h"
#include "directory/records.h"
#include "directory/regions.h"
#include "directory/schema.h"
#include "directory/security_context.h"
#include "directory/security_info.h"
#include "directory/state_machine.h"
#include "store/partition.h"

namespace meridian::directory {

struct DirectoryOptions {
  std::string data_dir;
  std::string cloud = "global";  // which regions this deployment hosts (directory/regions.h)
  int partitions_per_region = 2;
  bool sync = true;
  std::string domain_suffix = "meridian.test";  // initial domains are <name>.<suffix>
  // How new password hashes are made (PBKDF2 at OWASP's 600,000 iterations by default).
  crypto::PasswordHashing password_hashing;
  // A filter that no index serves is refused when the tenant has more objects of the type.
  int64_t max_unindexed_scan = 5000;
  Clock* clock = nullptr;    // default: the system clock
  Random* random = nullptr;  // default: OpenSSL's CSPRNG
  // The file system and clock of RocksDB (nullptr: the real ones); tests inject faults here.
  rocksdb::Env* env = nullptr;
  // Where password hashes run (bounded, fair across tenants); nullptr runs them inline.
  CpuGate* cpu_gate = nullptr;
  // A cluster node: the partitions of this region only (empty: every region of the cloud), and
  // the global partition. Tenants of other regions are served by nodes of their region.
  std::string local_region;
  // The partitions are replicas (replication/): reads see only committed state, writes go through
  // the hook the node installs on each partition, and Open writes nothing; the node calls
  // Bootstrap() once the global partition has a primary.
  bool replicated = false;
  // A cluster node: whether this node is the primary of a partition now; null: every partition
  // here is. A tenant's creation logs its first objects on its partition here when it can, and
  // through `log_elsewhere` otherwise.
  std::function<bool(const std::string& partition)> writable_here;
  // A cluster node: logs a tenant's creation `op` on `partition`'s primary, another node (of
  // the tenant's region), and returns once it committed there.
  std::function<Status(const std::string& partition, const proto::Op& op)> log_elsewhere;
  // Smart lockout of password sign-ins.
  LockoutPolicy lockout;
  // Tests only: called at named points of multi-step operations; a non-OK status stops the
  // operation there, as a crash would ("create-tenant:reserved", "create-tenant:created").
  std::function<Status(std::string_view point)> fault_point;
};

class Directory final : public TenantDirectory, public ClientDirectory {
 public:
  ~Directory();
  static Result<std::unique_ptr<Directory>> Open(DirectoryOptions options);

  const DirectoryOptions& options() const { return options_; }

  // What Open does last on the embedded default, and a cluster node once its global partition
  // has a primary: loads (or, on the global primary, creates) the deployment's secrets, and
  // completes or undoes tenant creations a crash interrupted (embedded default only). A node
  // that is not the global primary gets kUnavailable until the primary has created them.
  Status Bootstrap();
  // The deployment's secret `name` (32 random bytes, made on the global primary on first use).
  Result<std::string> ServiceSecret(std::string_view name);
  // Every partition this directory holds, the global one included, by id.
  std::map<std::string, store::Partition*> Partitions() const;
  Clock* clock() const override { return clock_; }
  Random* random() const override { return random_; }
  const std::string& cloud() const override { return options_.cloud; }

  // ---- Global tenant directory (routing metadata) ----
  // Active tenants. Scans the global directory: for start-up, not for request paths.
  Result<int64_t> TenantCount() const;
  // Every active tenant's routing record (id, region, partition, domains): routing metadata for
  // the operator's residency report, never a tenant's objects. Scans the global directory.
  Result<std::vector<TenantInfo>> Tenants() const;
  // Creates a tenant with its first administrator and a bootstrap application holding the Global
  // Administrator role. InvalidArgument for a bad name or country. The tenant is registered
  // pending, created in its partition, then activated; Open() undoes a creation that a crash
  // interrupted, so no tenant is ever half made.
  Result<NewTenant> CreateTenant(std::string_view display_name, std::string_view country);
  // Logs on `partition` the creation op of a tenant that the global partition holds pending
  // there, sent by the node that creates it (see DirectoryOptions::log_elsewhere).
  Status LogTenantCreation(const std::string& partition, const proto::Op& op);
  // Break-glass, for the operator: adds a new enabled user holding Global Administrator to the
  // tenant (by id or domain), with a one-time password it must change, audited as the
  // operator's. For a tenant whose administrators are all gone.
  Result<RestoredAdministrator> RestoreAdministrator(std::string_view tenant);

  // Reads every partition once: Ok when all answer and take writes. For readiness probes.
  Status CheckHealth() const;

  // ---- TenantDirectory; the tenant is ctx.tenant_id() ----
  Status AuthorizeRead(const SecurityContext& ctx, authz::Action action,
                       std::string_view type) const override;
  Result<Object> Get(const SecurityContext& ctx, const TypeSchema& type,
                     std::string_view id) const override;
  Result<Object> Lookup(const SecurityContext& ctx, const TypeSchema& type,
                        std::string_view id_or_key) const override;
  Result<Object> GetDirectoryObject(const SecurityContext& ctx, std::string_view id) const override;
  Result<Page> List(const SecurityContext& ctx, const TypeSchema& type,
                    const ListQuery& q) const override;
  Result<int64_t> Count(const SecurityContext& ctx, const TypeSchema& type) const override;
  Result<boost::json::object> Organization(const SecurityContext& ctx) const override;

  void Create(const SecurityContext& ctx, const TypeSchema& type, const boost::json::object& body,
              WriteDone done) override;
  void Update(const SecurityContext& ctx, const TypeSchema& type, std::string_view id,
              const boost::json::object& patch, std::optional<std::string_view> if_match,
              WriteDone done) override;
  void Delete(const SecurityContext& ctx, const TypeSchema& type, std::string_view id,
              std::optional<std::string_view> if_match, WriteDone done) override;
  void AddPassword(const SecurityContext& ctx, std::string_view app_id,
                   const boost::json::object& body, WriteDone done) override;
  void RemovePassword(const SecurityContext& ctx, std::string_view app_id, std::string_view key_id,
                      WriteDone done) override;
  void AddLink(const SecurityContext& ctx, std::string_view relation, const TypeSchema& source_type,
               std::string_view source_id, std::string_view target_id, WriteDone done) override;
  void RemoveLink(const SecurityContext& ctx, std::string_view relation,
                  const TypeSchema& source_type, std::string_view source_id,
                  std::string_view target_id, WriteDone done) override;

  // The same writes, waiting for the outcome: for tests and tools. On a cluster node they block
  // their thread until the write commits on the sync set.
  Result<WriteResult> Create(const SecurityContext& ctx, const TypeSchema& type,
                             const boost::json::object& body);
  Result<WriteResult> Update(const SecurityContext& ctx, const TypeSchema& type,
                             std::string_view id, const boost::json::object& patch,
                             std::optional<std::string_view> if_match);
  Result<uint64_t> Delete(const SecurityContext& ctx, const TypeSchema& type, std::string_view id,
                          std::optional<std::string_view> if_match);
  Result<boost::json::object> AddPassword(const SecurityContext& ctx, std::string_view app_id,
                                          const boost::json::object& body);
  Status RemovePassword(const SecurityContext& ctx, std::string_view app_id,
                        std::string_view key_id);
  Result<uint64_t> AddLink(const SecurityContext& ctx, std::string_view relation,
                           const TypeSchema& source_type, std::string_view source_id,
                           std::string_view target_id);
  Result<uint64_t> RemoveLink(const SecurityContext& ctx, std::string_view relation,
                              const TypeSchema& source_type, std::string_view source_id,
                              std::string_view target_id);

  Result<Page> ListLinks(const SecurityContext& ctx, std::string_view relation,
                         LinkDirection direction, std::string_view id, bool transitive, int top,
                         std::string_view skiptoken) const override;

  // Template ids of the enabled roles the principal holds, directly or through role-assignable
  // groups (see directory/roles.h).
  Result<std::set<std::string>> RolesOf(const SecurityContext& ctx,
                                        std::string_view principal_id) const;

  Result<Page> ListAudit(const SecurityContext& ctx, int top,
                         std::string_view skiptoken) const override;
  Result<Page> ListSignIns(const SecurityContext& ctx, const SignInQuery& q) const override;
  // Logs a sign-in attempt: `record` is Graph's signIn resource without its id and
  // createdDateTime, which the write adds (the op's time); indexed by its userId and appId. The
  // result's object is the record as logged.
  void RecordSignIn(const SecurityContext& ctx, boost::json::object record,
                    WriteDone done) override;
  Result<WriteResult> RecordSignIn(const SecurityContext& ctx, boost::json::object record);

  // ---- ClientDirectory ----
  Result<TenantInfo> ResolveTenant(std::string_view id_or_domain) const override;
  Result<Client> AuthenticateClient(const SecurityContext& ctx, std::string_view app_id,
                                    std::string_view secret) const override;
  Result<Client> FindClient(const SecurityContext& ctx, std::string_view app_id) const override;
  Result<TokenUser> FindUser(const SecurityContext& ctx, std::string_view user_id) const override;
  Result<std::set<std::string>> GrantedScopes(const SecurityContext& ctx,
                                              std::string_view client_sp,
                                              std::string_view resource_app_id,
                                              std::string_view user_id) const override;
  // A user's own consent (Entra's user consent) to `scopes` of the resource `resource_app_id`
  // for the client whose service principal is `client_sp`: the user's grant (consentType
  // Principal) gains them, made when the user has none. Graph's service principal is made first
  // when the tenant has none (tenants made before it was provisioned with them). By the sign-in
  // pages for the user who accepted, not authorized as an administrator's write; audited as
  // "Consent to application".
  void ConsentForUser(const SecurityContext& ctx, std::string_view user_id,
                      std::string_view client_sp, std::string_view resource_app_id,
                      const std::set<std::string>& scopes, WriteDone done) override;
  Result<std::vector<proto::SigningKey>> SigningKeys() const override;
  Status AddSigningKey(const proto::SigningKey& key) override;

  // ---- sign-in (sign_in.cc) ----

  // Checks `password` for the user whose userPrincipalName is `login`, with smart lockout
  // (directory/lockout.h, options().lockout). Refusals, all kUnauthenticated with Entra's code as
  // graph_code: AADSTS50126 for an unknown name or a wrong password (the same answer, after the
  // same work: a hash and a write of the name's failure count), AADSTS50053 while the name is
  // locked, AADSTS50057 for a disabled account (told only to who knows its password). The hash
  // runs on the CPU gate; `done` runs as a write's does (see WriteDone). A success whose stored
  // hash is weaker than the configuration (crypto::NeedsRehash) stores the password hashed
  // again (UpgradePasswordHash), hashed before any write, on the calling thread.
  void SignInWithPassword(const SecurityContext& ctx, std::string_view login,
                          std::string_view password,
                          std::function<void(Result<PasswordSignIn>)> done) override;
  Result<PasswordSignIn> SignInWithPassword(const SecurityContext& ctx, std::string_view login,
                                            std::string_view password);

  // ---- security info (directory/security_info.h, security_info.cc) ----

  // What the user `user_id` registered; NotFound for no such user.
  Result<SecurityInfo> ReadSecurityInfo(const SecurityContext& ctx, std::string_view user_id) const;
  // The user's per-user MFA state, and its change ("disabled", "enabled", "enforced";
  // InvalidArgument for another), authorized as a password reset of the user (as a Temporary
  // Access Pass is), audited as "Update per-user multifactor authentication state".
  Result<std::string> MfaRequirement(const SecurityContext& ctx,
                                     std::string_view user_id) const override;
  void SetMfaRequirement(const SecurityContext& ctx, std::string_view user_id, std::string state,
                         WriteDone done) override;
  // Registers an authenticator and a fresh set of recovery codes, audited as "User registered
  // security info"; FailedPrecondition when one is registered already (it is never replaced
  // this way). The seed arrives sealed (crypto/sealed.h).
  void RegisterTotp(const SecurityContext& ctx, std::string_view user_id, std::string sealed_seed,
                    std::vector<std::string> recovery_code_hashes, WriteDone done) override;
  // Accepts a code of time step `step` of the user's authenticator: only when `step` is after the
  // last step accepted (kFailedPrecondition otherwise, with graph_code "AADSTS54001": a code works
  // once), decided under the write lock, so of two sign-ins with one code one passes.
  void UseTotpStep(const SecurityContext& ctx, std::string_view user_id, int64_t step,
                   WriteDone done) override;
  // Spends the recovery code whose hash is `code_hash`; kNotFound when it is not one of the
  // user's unspent codes.
  void UseRecoveryCode(const SecurityContext& ctx, std::string_view user_id, std::string code_hash,
                       WriteDone done) override;

  // ---- Temporary Access Pass (directory/temporary_access_pass.h) ----

  // Issues the user a pass (replacing an expired or used one; AlreadyExists while one can still
  // sign in), authorized as a password reset of the user. The result's object holds Graph's
  // method with the pass, shown this once.
  void IssueTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                const boost::json::object& body, WriteDone done) override;
  // The user's pass as Graph shows it (none or one), to whoever may issue one.
  Result<std::vector<boost::json::object>> TemporaryAccessPasses(
      const SecurityContext& ctx, std::string_view user_id) const override;
  void DeleteTemporaryAccessPass(const SecurityContext& ctx, std::string_view user_id,
                                 std::string_view method_id, WriteDone done) override;
  // Signs `login` in with a pass, under the lockout of SignInWithPassword and with its refusals; a
  // pass usable once is spent (check-and-set, so of two sign-ins with it one passes).
  void SignInWithTemporaryAccessPass(const SecurityContext& ctx, std::string_view login,
                                     std::string_view pass,
                                     std::function<void(Result<PasswordSignIn>)> done);

  // ---- GrantStore (directory/grants.h) ----
  Result<std::optional<Grant>> ReadGrant(const SecurityContext& ctx, std::string_view kind,
                                         std::string_view handle) const override;
  void UpdateGrant(const SecurityContext& ctx, std::string_view kind, std::string_view handle,
                   GrantDecision decide, GrantDone done) override;
  // UpdateGrant, waiting for the outcome: for tests and tools.
  Result<Grant> UpdateGrant(const SecurityContext& ctx, std::string_view kind,
                            std::string_view handle, GrantDecision decide);

  // ---- re-hashing at sign-in ----
  // Re-hashing at sign-in: replaces user `user_id`'s password hash with `new_hash` (a fresh hash
  // of the password that just verified, made by the caller off the write lock because
  // crypto::NeedsRehash said the stored one is weaker than the configuration) only while the
  // stored hash is still `expected_old_hash`. The comparison and the write are one op, built under
  // the partition's write lock, so a password set meanwhile is never overwritten. Not a change of
  // password: no authorization is asked (the context only names the tenant), the user's other
  // state is untouched, and the audit record says "Update user password hash" with no modified
  // property. `done` (see WriteDone for the thread) gets true once written, false when the stored
  // hash was no longer `expected_old_hash` (nothing is written); InvalidArgument when `new_hash`
  // is not a hash that the configured hashing would keep (malformed, or itself due a rehash: no
  // downgrade); NotFound when the tenant has no such user.
  void UpgradePasswordHash(const SecurityContext& ctx, std::string_view user_id,
                           std::string new_hash, std::string expected_old_hash,
                           std::function<void(Result<bool>)> done);
  // The same, waiting for the outcome.
  Result<bool> UpgradePasswordHash(const SecurityContext& ctx, std::string_view user_id,
                                   std::string new_hash, std::string expected_old_hash);

  // The user's own change of a password that must change (forceChangePasswordNextSignIn), at an
  // interactive sign-in, once the current password verified (PasswordSignIn::stored_hash is
  // `expected_old_hash`): `new_password` is checked against the password policy, must differ from
  // the current one, is hashed before any write, and is stored with the flag cleared, audited as
  // "Change user password", only while the stored hash is still `expected_old_hash` (so a proof
  // of the old password changes it once; FailedPrecondition after). InvalidArgument
  // ("Request_BadRequest") for a password the policy refuses.
  void ChangePasswordAtSignIn(const SecurityContext& ctx, std::string_view user_id,
                              std::string expected_old_hash, std::string new_password,
                              std::function<void(Status)> done) override;
  Status ChangePasswordAtSignIn(const SecurityContext& ctx, std::string_view user_id,
                                std::string expected_old_hash, std::string new_password);

  // Partition ids and their last LSNs, for /metrics.
  std::vector<std::pair<std::string, uint64_t>> PartitionLsns() const;

 private:
  explicit Directory(DirectoryOptions options);
  Result<store::Partition*> PartitionOf(const SecurityContext& ctx) const;
  // What a write does to what, for its authorization and for the audit record of a refusal.
  struct Intent {
    authz::Action action;
    std::string type;  // the target's type
    std::string id;    // the target's id; empty for a create
    std::string activity;
    bool role_assignable_group = false;  // a create of a role-assignable group
  };
  using Builder = std::function<Status(const store::ReadView&, const authz::Target&, proto::Op*)>;
  // The facts of `intent` read from `view`, and authz's verdict on them (an error of the Result
  // is a failed read, not a refusal).
  struct Decision {
    authz::Target target;
    Status verdict;
  };
  Result<Decision> DecideWrite(const SecurityContext& ctx, const store::ReadView& view,
                               const store::TenantKeys& keys, const Intent& intent) const;
  // Authorizes `intent` and runs `build` under the partition's write lock (before Submit
  // returns), then commits the op and calls `done` with where it committed (see WriteDone for
  // the thread). A refusal by authorization is audited in an op of its own first.
  using Committed = std::function<void(Result<store::Partition::Ack>)>;
  void Submit(const SecurityContext& ctx, const Intent& intent, const Builder& build,
              Committed done);
  std::unique_ptr<store::ReadView> TenantRead(store::Partition* p, const SecurityContext& ctx,
                                              bool snapshot) const;
  // Writes what `change` makes of user `user_id` (under the write lock, in an op audited as
  // `activity`) only while its stored password hash is still `expected_hash`; `done` says
  // whether the compare failed (the write's error is then FailedPrecondition).
  void ChangeWhileHashIs(
      const SecurityContext& ctx, std::string_view user_id, std::string expected_hash,
      std::string activity,
      const std::function<Status(const store::ReadView&, const store::TenantKeys&, Object*)>&
          change,
      std::function<void(Result<store::Partition::Ack>, bool mismatched)> done);
  // The policy's checks of a password that need the tenant's state (directory/passwords.cc): the
  // names of `user` (Graph properties) and of the organization; CheckPasswordOf checks the
  // password a body's passwordProfile sets, if any.
  static Status CheckPasswordNamesOf(const store::ReadView& view, const store::TenantKeys& keys,
                                     const boost::json::object& user, std::string_view password);
  static Status CheckPasswordOf(const store::ReadView& view, const store::TenantKeys& keys,
                                const boost::json::object& user);
  Result<std::optional<std::string>> HashPasswordOf(const SecurityContext& ctx,
                                                    const Intent& intent, const TypeSchema& type,
                                                    const boost::json::object& checked);
  // A sign-in with something the user knows (sign_in.cc): the lockout check, the user by name,
  // `check` (whether it matches; given nullptr for a name nobody has, it must do the same work
  // and answer false), the name's failure count on a miss, its reset on a match.
  void SignInWithSecret(const SecurityContext& ctx, std::string_view login,
                        const std::function<Result<bool>(const Object* user)>& check,
                        std::function<void(Result<PasswordSignIn>)> done);
  // Fills in what every op of `ctx`'s tenant carries: the tenant, the time (now), who acts and
  // the request it belongs to.
  void Stamp(const SecurityContext& ctx, proto::Op* op) const;
  // Changes the secret part of user `user_id`'s record with `change` (under the write lock, before
  // the call returns), in an op audited as `activity`; by the sign-in code, not authorized as an
  // administrator's write (see security_info.cc).
  void UpdateUserSecret(const SecurityContext& ctx, std::string_view user_id, std::string activity,
                        const std::function<Status(boost::json::object*)>& change, WriteDone done);
  // User `user_id` read, or changed by `change` (under the write lock, given the op's time) in an
  // op audited as `activity`, by someone who may reset the user's password
  // (authz::Action::kResetPassword): a Temporary Access Pass, the per-user MFA state.
  Result<Object> ReadUserForReset(const SecurityContext& ctx, std::string_view user_id) const;
  void ChangeUserForReset(const SecurityContext& ctx, std::string_view user_id,
                          std::string activity,
                          const std::function<Status(Object* user, int64_t now_ms)>& change,
                          Committed done);
  // UpdateUserSecret of the security info (directory/security_info.h).
  void UpdateSecurityInfo(const SecurityContext& ctx, std::string_view user_id,
                          std::string activity, std::function<Status(SecurityInfo*)> change,
                          WriteDone done);
  // The result of a write of `object` (or of nothing, when empty) that committed at `ack`.
  Result<WriteResult> Written(const SecurityContext& ctx, Object object,
                              const Result<store::Partition::Ack>& ack);
  void ChangeLink(const SecurityContext& ctx, bool add, std::string_view relation,
                  const TypeSchema& source_type, std::string_view source_id,
                  std::string_view target_id, WriteDone done);

  DirectoryOptions options_;
  Clock* clock_;
  Random* random_;
  TenantMachine tenant_machine_;
  std::unique_ptr<GlobalDirectory> global_;
  std::map<std::string, std::unique_ptr<store::Partition>> partitions_;
  std::unique_ptr<Provisioner> provisioner_;
  SkipTokens skip_tokens_;  // under the deployment's key, from the global directory; Bootstrap
  // What the password of a name nobody has is checked against: a hash made at Open with the
  // configured parameters, so that checking it costs what checking a user's does.
  std::string decoy_hash_;
};

}  // namespace meridian::directory
