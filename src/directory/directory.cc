#include "directory/directory.h"

#include <boost/json.hpp>
#include <filesystem>
#include <future>
#include <set>

#include "common/encoding.h"
#include "crypto/password.h"
#include "crypto/secret.h"
#include "crypto/sha.h"
#include "directory/clients.h"
#include "directory/objects.h"
#include "directory/permission_grants.h"
#include "directory/password_policy.h"
#include "directory/reads.h"
#include "directory/roles.h"
#include "store/keys.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

constexpr char kSecretsActivity[] = "Update application - Certificates and secrets management";

Result<bool> IsVerifiedDomainOf(const store::ReadView& view, const TenantKeys& keys,
                                std::string_view domain) {
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, view.Get(keys.Object("domain", AsciiLower(domain))));
  if (!raw) return false;
  MERIDIAN_ASSIGN_OR_RETURN(Object o, DecodeObject("domain", *raw));
  return Bool(o.data, "isVerified", false);
}

}  // namespace

Directory::Directory(DirectoryOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : SystemClock::Default()),
      random_(options_.random ? options_.random : SecureRandom::Default()) {}

Directory::~Directory() = default;

Result<std::unique_ptr<Directory>> Directory::Open(DirectoryOptions options) {
  std::vector<Region> regions = CloudRegions(options.cloud);
  if (regions.empty()) return InvalidArgument("unknown cloud '" + options.cloud + "'");
  if (options.partitions_per_region < 1 || options.partitions_per_region > 64) {
    return InvalidArgument("partitions_per_region must be between 1 and 64");
  }
  MERIDIAN_RETURN_IF_ERROR(options.password_hashing.Validate());
  std::unique_ptr<Directory> d(new Directory(std::move(options)));
  std::filesystem::path base = std::filesystem::path(d->options_.data_dir) / "partitions";
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  if (ec) return Internal("cannot create " + base.string() + ": " + ec.message());
  store::PartitionOptions popts;
  popts.sync = d->options_.sync;
  popts.env = d->options_.env;
  popts.block_cache_bytes = 16 << 20;
  popts.track_visibility = d->options_.replicated;
  MERIDIAN_ASSIGN_OR_RETURN(d->global_, GlobalDirectory::Open((base / "global").string(), popts,
                                                              d->clock_, d->random_));
  for (Region r : regions) {
    if (!d->options_.local_region.empty() && RegionCode(r) != d->options_.local_region) continue;
    for (int i = 1; i <= d->options_.partitions_per_region; ++i) {
      std::string id = std::string(RegionCode(r)) + "-" + std::to_string(i);
      MERIDIAN_ASSIGN_OR_RETURN(auto p, store::Partition::Open(id, (base / id).string(),
                                                               &d->tenant_machine_, popts));
      d->partitions_.emplace(id, std::move(p));
    }
  }
  ProvisioningOptions popt{d->options_.cloud, d->options_.partitions_per_region,
                           d->options_.domain_suffix, d->options_.password_hashing,
                           d->options_.fault_point, d->options_.writable_here,
                           d->options_.log_elsewhere};
  d->provisioner_ = std::make_unique<Provisioner>(std::move(popt), d->clock_, d->random_,
                                                  d->global_.get(), &d->partitions_);
  MERIDIAN_ASSIGN_OR_RETURN(d->decoy_hash_,
                            crypto::HashPassword(d->random_->Bytes(16), d->random_->Bytes(16),
                                                 d->options_.password_hashing));
  if (!d->options_.replicated) MERIDIAN_RETURN_IF_ERROR(d->Bootstrap());
  return d;
}

Status Directory::Bootstrap() {
  MERIDIAN_ASSIGN_OR_RETURN(std::string key, global_->ServiceSecret("skiptoken-mac", 32));
  skip_tokens_ = SkipTokens(std::move(key));
  // A cluster's interrupted creations wait for the operator (see docs/cluster.md): completing
  // them takes the primaries of two partitions, which need not be on one node.
  if (!options_.replicated) MERIDIAN_RETURN_IF_ERROR(provisioner_->RecoverTenantCreations());
  return Status::Ok();
}

Result<std::string> Directory::ServiceSecret(std::string_view name) {
  return global_->ServiceSecret(name, 32);
}

std::map<std::string, store::Partition*> Directory::Partitions() const {
  std::map<std::string, store::Partition*> out;
  out["global"] = global_->mutable_partition();
  for (const auto& [id, p] : partitions_) out[id] = p.get();
  return out;
}

Status Directory::CheckHealth() const {
  std::string probe = "H";  // no key starts with H: a read of the store, not of data
  MERIDIAN_RETURN_IF_ERROR(global_->CheckHealth());
  for (const auto& [id, p] : partitions_) {
    Status s = p->Latest()->Get(probe).status();
    if (s.ok()) s = p->Writable();
    if (!s.ok()) return Status(Code::kUnavailable, "partition " + id + ": " + s.message());
  }
  return Status::Ok();
}

// ---------------------------------------------------------------- global directory

Result<TenantInfo> Directory::ResolveTenant(std::string_view id_or_domain) const {
  MERIDIAN_ASSIGN_OR_RETURN(auto route, global_->Route(id_or_domain));
  return *route;
}

Result<int64_t> Directory::TenantCount() const { return global_->TenantCount(); }
Result<std::vector<TenantInfo>> Directory::Tenants() const { return global_->ActiveTenants(); }

Result<std::vector<proto::SigningKey>> Directory::SigningKeys() const {
  return global_->SigningKeys();
}

Status Directory::AddSigningKey(const proto::SigningKey& key) { return global_->AddSigningKey(key); }

Result<NewTenant> Directory::CreateTenant(std::string_view display_name,
                                          std::string_view country) {
  return provisioner_->CreateTenant(display_name, country);
}

Status Directory::LogTenantCreation(const std::string& partition, const proto::Op& op) {
  return provisioner_->LogCreation(partition, op);
}

Result<RestoredAdministrator> Directory::RestoreAdministrator(std::string_view tenant) {
  return provisioner_->RestoreAdministrator(tenant);
}

// ---------------------------------------------------------------- tenant data

Result<store::Partition*> Directory::PartitionOf(const SecurityContext& ctx) const {
  MERIDIAN_ASSIGN_OR_RETURN(auto t, global_->Route(ctx.tenant_id()));
  auto it = partitions_.find(t->partition);
  if (it == partitions_.end()) {
    return Status(Code::kUnavailable, "partition " + t->partition + " is not hosted on this node");
  }
  return it->second.get();
}

namespace {

authz::Caller::Kind CallerKind(SecurityContext::Kind k) {
  switch (k) {
    case SecurityContext::Kind::kUser: return authz::Caller::Kind::kUser;
    case SecurityContext::Kind::kServicePrincipal: return authz::Caller::Kind::kServicePrincipal;
    case SecurityContext::Kind::kOperator: return authz::Caller::Kind::kOperator;
    case SecurityContext::Kind::kTokenService: return authz::Caller::Kind::kTokenService;
  }
  return authz::Caller::Kind::kTokenService;  // the least powerful
}

// The caller's kind and enabled roles, from `view`.
Result<authz::Caller> CallerOf(const SecurityContext& ctx, const store::ReadView& view,
                               const TenantKeys& keys) {
  authz::Caller caller{CallerKind(ctx.kind()), {}};
  if (caller.kind == authz::Caller::Kind::kUser) {
    MERIDIAN_ASSIGN_OR_RETURN(Object me,
                              ReadObject(view, keys, "user", AsciiLower(ctx.principal_id())));
    caller.guest = EqualsIgnoreCase(Str(me.data, "userType"), "Guest");
  }
  if (caller.kind == authz::Caller::Kind::kUser ||
      caller.kind == authz::Caller::Kind::kServicePrincipal) {
    MERIDIAN_ASSIGN_OR_RETURN(caller.roles,
                              RolesOf(view, keys, AsciiLower(ctx.principal_id()), true));
  }
  return caller;
}

// The service principal of the application with object id `app`, or "" when it has none.
Result<std::string> ServicePrincipalOfApp(const store::ReadView& view, const TenantKeys& keys,
                                          std::string_view app) {
  MERIDIAN_ASSIGN_OR_RETURN(Object a, ReadObject(view, keys, "application", app));
  MERIDIAN_ASSIGN_OR_RETURN(auto sp, IdByAppId(view, keys, "servicePrincipal", Str(a.data, "appId")));
  return sp.value_or("");
}

// What the target of a write is, from `view`: its type, every role it holds (an application's
// are its service principal's), and whether it is a role-assignable group.
Result<authz::Target> TargetOf(const store::ReadView& view, const TenantKeys& keys,
                               const std::string& type, const std::string& id,
                               bool role_assignable_create) {
  authz::Target t{type, {}, role_assignable_create};
  if (id.empty()) return t;
  std::string holder;
  if (type == "user" || type == "servicePrincipal") {
    holder = id;
  } else if (type == "application") {
    MERIDIAN_ASSIGN_OR_RETURN(holder, ServicePrincipalOfApp(view, keys, id));
  } else if (type == "group") {
    MERIDIAN_ASSIGN_OR_RETURN(Object g, ReadObject(view, keys, "group", id));
    t.role_assignable_group = Bool(g.data, "isAssignableToRole", false);
    holder = id;
  }
  if (!holder.empty()) {
    MERIDIAN_ASSIGN_OR_RETURN(t.roles, RolesOf(view, keys, holder, false));
    // A member of a role-assignable group may hold its roles at any moment: protected as if it
    // held them already, as in Entra ID.
    std::string prefix = keys.RoleGroupMembershipPrefix(holder);
    MERIDIAN_RETURN_IF_ERROR(view.Scan(prefix, store::PrefixEnd(prefix), false,
                                       [&](std::string_view, std::string_view) {
                                         t.in_role_assignable_group = true;
                                         return false;
                                       }));
  }
  return t;
}

}  // namespace

// Every read of tenant data goes through a TenantView, which refuses any key outside the
// context's tenant: isolation holds even if a key were built wrongly.
std::unique_ptr<store::ReadView> Directory::TenantRead(store::Partition* p,
                                                      const SecurityContext& ctx,
                                                      bool snapshot) const {
  return std::make_unique<store::TenantView>(snapshot ? p->Snapshot() : p->Latest(),
                                             ctx.tenant_id());
}

Result<Directory::Decision> Directory::DecideWrite(const SecurityContext& ctx,
                                                  const store::ReadView& view,
                                                  const TenantKeys& keys,
                                                  const Intent& intent) const {
  MERIDIAN_ASSIGN_OR_RETURN(authz::Caller caller, CallerOf(ctx, view, keys));
  MERIDIAN_ASSIGN_OR_RETURN(
      authz::Target target,
      TargetOf(view, keys, intent.type, intent.id, intent.role_assignable_group));
  Status verdict = authz::Decide(caller, intent.action, target);
  return Decision{std::move(target), std::move(verdict)};
}

void Directory::Stamp(const SecurityContext& ctx, proto::Op* op) const {
  op->set_tenant_id(ctx.tenant_id());
  op->set_time_ms(clock_->NowMillis());
  *op->mutable_actor() = ctx.ToActor();
  op->set_request_id(ctx.correlation_id());
}

void Directory::Submit(const SecurityContext& ctx, const Intent& intent, const Builder& build,
                       Committed done) {
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  TenantKeys keys(ctx.tenant_id());
  // Set by the build, before the outcome arrives: a refusal by authorization, rather than any
  // other error.
  auto refused = std::make_shared<bool>(false);
  (*p)->WriteAsync(
      [&](const store::ReadView& partition_view, proto::Op* op) -> Status {
        Stamp(ctx, op);
        store::TenantView view(partition_view, ctx.tenant_id());
        MERIDIAN_ASSIGN_OR_RETURN(Decision d, DecideWrite(ctx, view, keys, intent));
        *refused = !d.verdict.ok();
        MERIDIAN_RETURN_IF_ERROR(d.verdict);
        return build(view, d.target, op);
      },
      [this, refused, ctx, intent, p = *p, done](Result<store::Partition::Ack> ack) {
        if (!*refused) return done(std::move(ack));
        // The refusal is audited in an op of its own, since the refused op wrote nothing.
        Status reason = ack.status();
        p->WriteAsync(
            [&](const store::ReadView&, proto::Op* op) {
              Stamp(ctx, op);
              auto* r = op->mutable_refusal();
              r->set_activity(intent.activity);
              r->set_target_type(intent.type);
              r->set_target_id(intent.id);
              r->set_reason(reason.message());
              switch (intent.action) {
                case authz::Action::kCreate: r->set_operation("Add"); break;
                case authz::Action::kDelete: r->set_operation("Delete"); break;
                case authz::Action::kManageMembers:
                case authz::Action::kManageOwners: r->set_operation("Assign"); break;
                default: r->set_operation("Update");
              }
              return Status::Ok();
            },
            [reason, done](Result<store::Partition::Ack> audited) {
              if (!audited.ok()) {
                return done(Internal("a refused write could not be audited: " +
                                     audited.status().message()));
              }
              done(reason);
            });
      });
}

Result<std::optional<Grant>> Directory::ReadGrant(const SecurityContext& ctx,
                                                  std::string_view kind,
                                                  std::string_view handle) const {
  MERIDIAN_RETURN_IF_ERROR(CheckGrantName(kind, handle));
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  MERIDIAN_ASSIGN_OR_RETURN(auto stored, TenantRead(p, ctx, false)
                                             ->Get(TenantKeys(ctx.tenant_id()).Grant(kind, handle)));
  return DecodeGrant(kind, handle, stored, clock_->NowMillis());
}

void Directory::UpdateGrant(const SecurityContext& ctx, std::string_view kind,
                            std::string_view handle, GrantDecision decide, GrantDone done) {
  Status named = CheckGrantName(kind, handle);
  if (!named.ok()) return done(named);
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  std::string key = TenantKeys(ctx.tenant_id()).Grant(kind, handle);
  auto written = std::make_shared<Grant>();
  (*p)->WriteAsync(
      [&](const store::ReadView& partition_view, proto::Op* op) -> Status {
        Stamp(ctx, op);
        store::TenantView view(partition_view, ctx.tenant_id());
        MERIDIAN_ASSIGN_OR_RETURN(auto stored, view.Get(key));
        MERIDIAN_ASSIGN_OR_RETURN(auto current, DecodeGrant(kind, handle, stored, op->time_ms()));
        MERIDIAN_ASSIGN_OR_RETURN(GrantChange change, decide(current, op->time_ms()));
        auto* g = op->mutable_grant_write();
        g->set_kind(std::string(kind));
        g->set_handle(std::string(handle));
        g->set_expect_version(current ? current->version : 0);
        *written = Grant{std::string(kind), std::string(handle), {}, 0, 0};
        if (change.data) {
          if (change.expires_ms <= op->time_ms()) {
            return InvalidArgument("a grant must expire after it is written");
          }
          g->set_record_json(json::serialize(*change.data));
          g->set_expires_ms(change.expires_ms);
          written->data = std::move(*change.data);
          written->expires_ms = change.expires_ms;
        }
        return Status::Ok();
      },
      [written, done = std::move(done)](Result<store::Partition::Ack> ack) {
        if (!ack.ok()) return done(ack.status());
        written->version = ack->lsn;
        done(std::move(*written));
      });
}

Result<Grant> Directory::UpdateGrant(const SecurityContext& ctx, std::string_view kind,
                                     std::string_view handle, GrantDecision decide) {
  std::promise<Result<Grant>> promise;
  std::future<Result<Grant>> future = promise.get_future();
  UpdateGrant(ctx, kind, handle, std::move(decide),
              [&promise](Result<Grant> g) { promise.set_value(std::move(g)); });
  return future.get();
}

Status Directory::AuthorizeRead(const SecurityContext& ctx, authz::Action action,
                                std::string_view type) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  MERIDIAN_ASSIGN_OR_RETURN(authz::Caller caller,
                            CallerOf(ctx, *view, TenantKeys(ctx.tenant_id())));
  return authz::Decide(caller, action, authz::Target{std::string(type), {}, false});
}

Result<Object> Directory::Get(const SecurityContext& ctx, const TypeSchema& type,
                              std::string_view id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  return ReadObject(*TenantRead(p, ctx, false), TenantKeys(ctx.tenant_id()), type.type, id);
}

Result<Object> Directory::Lookup(const SecurityContext& ctx, const TypeSchema& type,
                                 std::string_view key) const {
  if (type.type == "domain") return Get(ctx, type, AsciiLower(key));
  if (IsUuid(key)) {
    auto o = Get(ctx, type, AsciiLower(key));
    if (o.ok() || o.status().code() != Code::kNotFound || type.type == "user") return o;
  }
  const char* alt = type.type == "user" ? "userPrincipalName"
                    : (type.type == "application" || type.type == "servicePrincipal") ? "appId"
                                                                                       : nullptr;
  if (!alt) return Get(ctx, type, key);
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, false);
  TenantKeys keys(ctx.tenant_id());
  MERIDIAN_ASSIGN_OR_RETURN(auto id, view->Get(keys.Unique(type.type, alt, AsciiLower(key))));
  if (!id) return ReadObject(*view, keys, type.type, key);  // the usual NotFound
  return ReadObject(*view, keys, type.type, *id);
}

Result<Object> Directory::GetDirectoryObject(const SecurityContext& ctx,
                                             std::string_view id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, false);
  TenantKeys keys(ctx.tenant_id());
  MERIDIAN_ASSIGN_OR_RETURN(auto type, view->Get(keys.Kind(AsciiLower(id))));
  if (!type) return ReadObject(*view, keys, "user", id);  // NotFound
  return ReadObject(*view, keys, *type, AsciiLower(id));
}

Result<int64_t> Directory::Count(const SecurityContext& ctx, const TypeSchema& type) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, false);
  return TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
      .Count(type);
}

Result<json::object> Directory::Organization(const SecurityContext& ctx) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  MERIDIAN_ASSIGN_OR_RETURN(
      auto raw, TenantRead(p, ctx, false)->Get(TenantKeys(ctx.tenant_id()).Organization()));
  if (!raw) return NotFound("organization not found");
  return ParseObject(*raw, "organization");
}

// ---------------------------------------------------------------- writes

namespace {

Status CheckIfMatch(const Object& current, std::optional<std::string_view> if_match) {
  if (!if_match || *if_match == "*") return Status::Ok();
  if (*if_match != current.ETag()) {
    return Status(Code::kFailedPrecondition,
                  "The object was changed since the ETag " + std::string(*if_match) +
                      " was read; its ETag is now " + current.ETag() + ".",
                  "Request_PreconditionFailed");
  }
  return Status::Ok();
}

Status CheckUpnDomain(const store::ReadView& view, const TenantKeys& keys, std::string_view upn) {
  size_t at = upn.find('@');
  if (at == std::string_view::npos || at == 0 || upn.find('@', at + 1) != std::string_view::npos ||
      upn.size() > 113) {
    return InvalidArgument("userPrincipalName '" + std::string(upn) +
                               "' must have the form alias@domain.",
                           "Request_BadRequest");
  }
  for (char c : upn.substr(0, at)) {
    if (!isalnum(static_cast<unsigned char>(c)) && std::string_view("'.-_!#^~").find(c) ==
                                                        std::string_view::npos) {
      return InvalidArgument("userPrincipalName contains the invalid character '" +
                                 std::string(1, c) + "'.",
                             "Request_BadRequest");
    }
  }
  MERIDIAN_ASSIGN_OR_RETURN(bool verified, IsVerifiedDomainOf(view, keys, upn.substr(at + 1)));
  if (!verified) {
    return InvalidArgument("The domain portion of the userPrincipalName property is invalid. You "
                           "must use one of the verified domain names in your organization.",
                           "Request_BadRequest");
  }
  return Status::Ok();
}

}  // namespace

Status PasswordHashed(const std::optional<std::string>& hash) {
  if (hash && hash->empty()) {
    return Status(Code::kUnavailable,
                  "The caller's roles changed while the request was processed; retry it.");
  }
  return Status::Ok();
}

Result<WriteResult> Directory::Written(const SecurityContext& ctx, Object object,
                                       const Result<store::Partition::Ack>& ack) {
  MERIDIAN_RETURN_IF_ERROR(ack.status());
  MERIDIAN_ASSIGN_OR_RETURN(auto route, global_->Route(ctx.tenant_id()));
  if (!object.id.empty()) object.version = ack->lsn;  // the apply stamps the record with its LSN
  return WriteResult{std::move(object), route->partition, ack->lsn, ack->epoch};
}

namespace {

// Runs `start`, which ends by submitting a write whose outcome answers `done`; an error before
// the write (a malformed body, an unknown object) answers `done` here.
void Start(const WriteDone& done, const std::function<Status()>& start) {
  Status s = start();
  if (!s.ok()) done(s);
}

// Runs an asynchronous write and waits for its outcome.
Result<WriteResult> Await(const std::function<void(WriteDone)>& write) {
  std::promise<Result<WriteResult>> promise;
  std::future<Result<WriteResult>> future = promise.get_future();
  write([&promise](Result<WriteResult> r) { promise.set_value(std::move(r)); });
  return future.get();
}

// Runs an asynchronous write and waits for the LSN it committed at.
Result<uint64_t> AwaitLsn(const std::function<void(WriteDone)>& write) {
  MERIDIAN_ASSIGN_OR_RETURN(WriteResult w, Await(write));
  return w.lsn;
}

}  // namespace

Result<WriteResult> Directory::Create(const SecurityContext& ctx, const TypeSchema& type,
                                      const json::object& body) {
  return Await([&](WriteDone done) { Create(ctx, type, body, std::move(done)); });
}

Result<WriteResult> Directory::Update(const SecurityContext& ctx, const TypeSchema& type,
                                      std::string_view id, const json::object& patch,
                                      std::optional<std::string_view> if_match) {
  return Await([&](WriteDone done) { Update(ctx, type, id, patch, if_match, std::move(done)); });
}

Result<uint64_t> Directory::Delete(const SecurityContext& ctx, const TypeSchema& type,
                                   std::string_view id, std::optional<std::string_view> if_match) {
  return AwaitLsn([&](WriteDone done) { Delete(ctx, type, id, if_match, std::move(done)); });
}

Result<json::object> Directory::AddPassword(const SecurityContext& ctx, std::string_view app_id,
                                            const json::object& body) {
  MERIDIAN_ASSIGN_OR_RETURN(WriteResult w, Await([&](WriteDone done) {
                              AddPassword(ctx, app_id, body, std::move(done));
                            }));
  return std::move(w.object.data);
}

Status Directory::RemovePassword(const SecurityContext& ctx, std::string_view app_id,
                                 std::string_view key_id) {
  return Await([&](WriteDone done) { RemovePassword(ctx, app_id, key_id, std::move(done)); })
      .status();
}

Result<uint64_t> Directory::AddLink(const SecurityContext& ctx, std::string_view relation,
                                    const TypeSchema& source_type, std::string_view source_id,
                                    std::string_view target_id) {
  return AwaitLsn([&](WriteDone done) {
    AddLink(ctx, relation, source_type, source_id, target_id, std::move(done));
  });
}

Result<uint64_t> Directory::RemoveLink(const SecurityContext& ctx, std::string_view relation,
                                       const TypeSchema& source_type, std::string_view source_id,
                                       std::string_view target_id) {
  return AwaitLsn([&](WriteDone done) {
    RemoveLink(ctx, relation, source_type, source_id, target_id, std::move(done));
  });
}

void Directory::Create(const SecurityContext& ctx, const TypeSchema& type, const json::object& body,
                       WriteDone done) {
  Start(done, [&]() -> Status {
    if (type.type == "domain") {
      return Status(Code::kMethodNotAllowed, "Domains are added by the operator.");
    }
    std::string id = random_->Uuid();
    // Values that are not a function of the state are drawn before the write lock is taken, and
    // so is the slow password hash (never under the lock).
    std::string app_id = random_->Uuid();
    TenantKeys keys(ctx.tenant_id());
    Intent intent{authz::Action::kCreate, std::string(type.type), "",
                  "Add " + std::string(type.name())};
    // Facts for authorization come from the checked body, whose property names are the schema's
    // (a client may spell them in any case).
    json::object checked;
    MERIDIAN_RETURN_IF_ERROR(ApplyBody(type, body, true, &checked));
    intent.role_assignable_group =
        type.type == "group" && Bool(checked, "isAssignableToRole", false);
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> password_hash,
                              HashPasswordOf(ctx, intent, type, checked));
    // What the op wrote, returned without reading it back.
    auto written = std::make_shared<Object>();
    Submit(
        ctx, intent,
        [&](const store::ReadView& view, const authz::Target&, proto::Op* op) -> Status {
          Object o;
          o.type = std::string(type.type);
          o.id = id;
          o.data = checked;
          std::string created = FormatIso8601(op->time_ms());
          if (type.type == "user") {
            o.data.emplace("userType", "Member");
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            MERIDIAN_RETURN_IF_ERROR(CheckUpnDomain(view, keys, Str(o.data, "userPrincipalName")));
            const json::object& profile = o.data["passwordProfile"].as_object();
            if (!password_hash) {
              return InvalidArgument("passwordProfile.password is required.", "Request_BadRequest");
            }
            MERIDIAN_RETURN_IF_ERROR(PasswordHashed(password_hash));
            MERIDIAN_RETURN_IF_ERROR(CheckPasswordOf(view, keys, o.data));
            o.secret["passwordHash"] = *password_hash;
            o.secret["forceChangePasswordNextSignIn"] =
                Bool(profile, "forceChangePasswordNextSignIn", true);
            o.data.erase("passwordProfile");
            o.data["createdDateTime"] = created;
          } else if (type.type == "group") {
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            bool unified = false;
            if (auto* gt = o.data.if_contains("groupTypes")) {
              for (const auto& g : gt->as_array()) {
                if (EqualsIgnoreCase(g.as_string(), "Unified")) {
                  unified = true;
                } else if (!EqualsIgnoreCase(g.as_string(), "DynamicMembership")) {
                  return InvalidArgument("Unknown group type '" + std::string(g.as_string()) + "'.",
                                         "Request_BadRequest");
                }
              }
            } else {
              o.data["groupTypes"] = json::array{};
            }
            bool mail_enabled = o.data["mailEnabled"].as_bool();
            bool security = o.data["securityEnabled"].as_bool();
            if (unified != mail_enabled || (!unified && !security)) {
              return InvalidArgument(
                  "Create a Microsoft 365 group (groupTypes [\"Unified\"], mailEnabled true) or a "
                  "security group (mailEnabled false, securityEnabled true).",
                  "Request_BadRequest");
            }
            if (unified) {
              MERIDIAN_ASSIGN_OR_RETURN(auto org_raw, view.Get(keys.Organization()));
              if (!org_raw) return Internal("tenant has no organization record");
              MERIDIAN_ASSIGN_OR_RETURN(json::object org, ParseObject(*org_raw, "organization"));
              std::string domain = Str(org["verifiedDomains"].as_array()[0].as_object(), "name");
              std::string mail = Str(o.data, "mailNickname") + "@" + domain;
              o.data["mail"] = mail;
              o.data["proxyAddresses"] = json::array{"SMTP:" + mail};
            }
            o.data["createdDateTime"] = created;
          } else if (type.type == "application") {
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            o.data["appId"] = app_id;
            o.data.emplace("signInAudience", "AzureADMyOrg");
            o.data.emplace("identifierUris", json::array{});
            o.data["passwordCredentials"] = json::array{};
            o.data["createdDateTime"] = created;
          } else if (type.type == "servicePrincipal") {
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            std::string app = AsciiLower(Str(o.data, "appId"));
            MERIDIAN_ASSIGN_OR_RETURN(auto app_obj_id, IdByAppId(view, keys, "application", app));
            if (!app_obj_id) {
              return InvalidArgument(
                  "No application with appId '" + app + "' exists in this tenant.",
                  "Request_BadRequest");
            }
            MERIDIAN_ASSIGN_OR_RETURN(Object a, ReadObject(view, keys, "application", *app_obj_id));
            o.data["appId"] = app;
            o.data.emplace("displayName", a.data["displayName"]);
            o.data["appDisplayName"] = a.data["displayName"];
            o.data.emplace("accountEnabled", true);
            o.data["appOwnerOrganizationId"] = ctx.tenant_id();
            o.data["servicePrincipalType"] = "Application";
            json::array names{json::string(app)};
            if (auto* uris = a.data.if_contains("identifierUris")) {
              for (const auto& u : uris->as_array()) names.push_back(u);
            }
            o.data["servicePrincipalNames"] = std::move(names);
            o.data["appRoles"] = a.data.contains("appRoles") ? a.data["appRoles"] : json::array{};
          } else if (type.type == "oauth2PermissionGrant") {
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            MERIDIAN_RETURN_IF_ERROR(PrepareGrant(view, keys, &o.data));
          } else if (type.type == "roleDefinition") {
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            o.data["isBuiltIn"] = false;
            o.data["templateId"] = id;  // never a built-in role's id
          } else if (type.type == "roleAssignment") {
            o.data.emplace("directoryScopeId", "/");
            MERIDIAN_RETURN_IF_ERROR(CheckRequired(type, o.data));
            std::string principal = AsciiLower(Str(o.data, "principalId"));
            std::string role = AsciiLower(Str(o.data, "roleDefinitionId"));
            if (Str(o.data, "directoryScopeId") != "/") {
              return InvalidArgument("Only the tenant-wide scope '/' is supported.",
                                     "Request_BadRequest");
            }
            MERIDIAN_ASSIGN_OR_RETURN(auto kind, view.Get(keys.Kind(principal)));
            if (!kind || (*kind != "user" && *kind != "servicePrincipal" && *kind != "group")) {
              return InvalidArgument("principalId '" + principal +
                                         "' is not a user, group or service "
                                         "principal of this tenant.",
                                     "Request_BadRequest");
            }
            if (*kind == "group") {
              // As in Entra ID, only groups created role-assignable can hold roles, so that group
              // owners cannot grant themselves a role by adding members.
              MERIDIAN_ASSIGN_OR_RETURN(Object g, ReadObject(view, keys, "group", principal));
              auto* assignable = g.data.if_contains("isAssignableToRole");
              if (!assignable || !assignable->is_bool() || !assignable->get_bool()) {
                return InvalidArgument(
                    "Roles can be assigned only to groups created with "
                    "isAssignableToRole true.",
                    "Request_BadRequest");
              }
            }
            MERIDIAN_ASSIGN_OR_RETURN(auto rd, view.Get(keys.Object("roleDefinition", role)));
            if (!rd) {
              return InvalidArgument("roleDefinitionId '" + role + "' does not exist.",
                                     "Request_BadRequest");
            }
            // One assignment per principal and role.
            MERIDIAN_ASSIGN_OR_RETURN(auto existing,
                                      RoleAssignmentsBy(view, keys, "principalId", principal));
            bool duplicate = false;
            for (const std::string& a : existing) {
              MERIDIAN_ASSIGN_OR_RETURN(Object ra, ReadObject(view, keys, "roleAssignment", a));
              duplicate = duplicate || Str(ra.data, "roleDefinitionId") == role;
            }
            if (duplicate) {
              return AlreadyExists(
                  "A conflicting object with one or more of the specified property "
                  "values is present in the directory.");
            }
            o.data["principalId"] = principal;
            o.data["roleDefinitionId"] = role;
          }
          o.data["id"] = id;
          MERIDIAN_RETURN_IF_ERROR(
              SetPut(op, type.type, o, nullptr, "Add " + std::string(type.name())));
          *written = std::move(o);
          return Status::Ok();
        },
        [this, ctx, written, done](Result<store::Partition::Ack> ack) {
          done(Written(ctx, std::move(*written), ack));
        });
    return Status::Ok();
  });
}

void Directory::Update(const SecurityContext& ctx, const TypeSchema& type, std::string_view id_in,
                       const json::object& patch, std::optional<std::string_view> if_match,
                       WriteDone done) {
  Start(done, [&]() -> Status {
    if (type.type == "roleAssignment" || type.type == "domain") {
      return Status(Code::kMethodNotAllowed,
                    std::string(type.odata_type.substr(1)) + " cannot be updated.");
    }
    MERIDIAN_ASSIGN_OR_RETURN(Object found, Lookup(ctx, type, id_in));
    std::string id = found.id;
    TenantKeys keys(ctx.tenant_id());
    // Setting a password is its own action and its own audited activity. Decided on the checked
    // patch, whose property names are the schema's whatever case the client used.
    json::object checked;
    MERIDIAN_RETURN_IF_ERROR(ApplyBody(type, patch, false, &checked));
    bool reset = type.type == "user" && checked.contains("passwordProfile");
    Intent intent{reset ? authz::Action::kResetPassword : authz::Action::kUpdate,
                  std::string(type.type), id,
                  reset ? "Reset user password" : "Update " + std::string(type.name())};
    MERIDIAN_ASSIGN_OR_RETURN(std::optional<std::string> password_hash,
                              HashPasswordOf(ctx, intent, type, checked));
    auto written = std::make_shared<Object>();
    Submit(
        ctx, intent,
        [&](const store::ReadView& view, const authz::Target& target, proto::Op* op) -> Status {
          MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, type.type, id));
          const Object before = o;
          MERIDIAN_RETURN_IF_ERROR(CheckIfMatch(o, if_match));
          if (type.type == "roleDefinition" && Bool(o.data, "isBuiltIn", true)) {
            return InvalidArgument("Built-in role definitions cannot be changed.",
                                   "Request_BadRequest");
          }
          bool was_enabled = Bool(o.data, "accountEnabled", true);
          MERIDIAN_RETURN_IF_ERROR(ApplyBody(type, patch, false, &o.data));
          if (type.type == "user") {
            if (patch.contains("userPrincipalName")) {
              MERIDIAN_RETURN_IF_ERROR(
                  CheckUpnDomain(view, keys, Str(o.data, "userPrincipalName")));
            }
            if (auto* profile = o.data.if_contains("passwordProfile")) {
              MERIDIAN_RETURN_IF_ERROR(PasswordHashed(password_hash));
              MERIDIAN_RETURN_IF_ERROR(CheckPasswordOf(view, keys, o.data));
              if (password_hash) o.secret["passwordHash"] = *password_hash;
              if (auto* f = profile->as_object().if_contains("forceChangePasswordNextSignIn");
                  f && f->is_bool()) {
                o.secret["forceChangePasswordNextSignIn"] = f->get_bool();
              }
              o.data.erase("passwordProfile");
            }
          }
          if (was_enabled && !Bool(o.data, "accountEnabled", true) &&
              target.roles.count(std::string(authz::kGlobalAdministrator))) {
            MERIDIAN_RETURN_IF_ERROR(
                EnsureGlobalAdministratorRemains(view, keys, {.principal = id}));
          }
          MERIDIAN_RETURN_IF_ERROR(SetPut(op, type.type, o, &before, intent.activity));
          *written = std::move(o);
          return Status::Ok();
        },
        [this, ctx, written, done](Result<store::Partition::Ack> ack) {
          done(Written(ctx, std::move(*written), ack));
        });
    return Status::Ok();
  });
}

void Directory::Delete(const SecurityContext& ctx, const TypeSchema& type, std::string_view id_in,
                       std::optional<std::string_view> if_match, WriteDone done) {
  Start(done, [&]() -> Status {
    if (type.type == "domain") {
      return Status(Code::kMethodNotAllowed, "The initial domain cannot be deleted.");
    }
    MERIDIAN_ASSIGN_OR_RETURN(Object found, Lookup(ctx, type, id_in));
    TenantKeys keys(ctx.tenant_id());
    Intent intent{authz::Action::kDelete, std::string(type.type), found.id,
                  "Delete " + std::string(type.name())};
    Submit(
        ctx, intent,
        [&](const store::ReadView& view, const authz::Target& target, proto::Op* op) -> Status {
          MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, type.type, found.id));
          MERIDIAN_RETURN_IF_ERROR(CheckIfMatch(o, if_match));
          RoleLoss loss;
          bool loses_global_admin =
              target.roles.count(std::string(authz::kGlobalAdministrator)) > 0;
          if (type.type == "roleDefinition") {
            if (Bool(o.data, "isBuiltIn", true)) {
              return InvalidArgument("Built-in role definitions cannot be deleted.",
                                     "Request_BadRequest");
            }
            MERIDIAN_ASSIGN_OR_RETURN(auto assignments,
                                      RoleAssignmentsBy(view, keys, "roleDefinitionId", found.id));
            bool assigned = !assignments.empty();
            if (assigned) {
              return InvalidArgument(
                  "The role definition is assigned; remove its assignments first.",
                  "Request_BadRequest");
            }
          } else if (type.type == "roleAssignment") {
            loss.assignment = found.id;
            loses_global_admin = Str(o.data, "roleDefinitionId") == authz::kGlobalAdministrator;
          } else if (type.type == "group") {
            loss.group = found.id;
          } else if (type.type == "application") {
            MERIDIAN_ASSIGN_OR_RETURN(loss.principal, ServicePrincipalOfApp(view, keys, found.id));
          } else {
            loss.principal = found.id;
          }
          if (loses_global_admin) {
            MERIDIAN_RETURN_IF_ERROR(EnsureGlobalAdministratorRemains(view, keys, loss));
          }
          auto* del = op->mutable_delete_object();
          del->set_type(std::string(type.type));
          del->set_id(found.id);
          del->set_activity(intent.activity);
          return Status::Ok();
        },
        [this, ctx, done](Result<store::Partition::Ack> ack) { done(Written(ctx, {}, ack)); });
    return Status::Ok();
  });
}

void Directory::AddPassword(const SecurityContext& ctx, std::string_view app_id,
                            const json::object& body, WriteDone done) {
  Start(done, [&]() -> Status {
    const TypeSchema& type = *FindType("application");
    MERIDIAN_ASSIGN_OR_RETURN(Object found, Lookup(ctx, type, app_id));
    std::string secret = crypto::GenerateClientSecret(*random_);
    std::string key_id = random_->Uuid();
    auto credential = std::make_shared<json::object>();
    TenantKeys keys(ctx.tenant_id());
    Intent intent{authz::Action::kManageCredentials, "application", found.id, kSecretsActivity};
    Submit(
        ctx, intent,
        [&](const store::ReadView& view, const authz::Target&, proto::Op* op) -> Status {
          MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, "application", found.id));
          const Object before = o;
          std::string display_name;
          int64_t end = op->time_ms() + kClientSecretLifetimeMs;
          if (auto* pc = body.if_contains("passwordCredential")) {
            if (!pc->is_object()) {
              return InvalidArgument("passwordCredential must be an object.", "Request_BadRequest");
            }
            for (const auto& [k, v] : pc->get_object()) {
              if (k == "displayName" && v.is_string() && v.get_string().size() <= 256) {
                display_name = v.get_string();
              } else if (k == "endDateTime" && v.is_string()) {
                continue;  // custom lifetimes are capped at the default for now
              } else if (!v.is_null()) {
                return InvalidArgument(
                    "Property '" + std::string(k) + "' of passwordCredential cannot be set.",
                    "Request_BadRequest");
              }
            }
          }
          auto& creds = o.data["passwordCredentials"];
          if (!creds.is_array()) creds = json::array{};
          if (creds.as_array().size() >= 16) {
            return InvalidArgument("An application can have at most 16 client secrets.",
                                   "Request_BadRequest");
          }
          *credential = {{"keyId", key_id},
                         {"displayName", display_name},
                         {"hint", crypto::SecretHint(secret)},
                         {"customKeyIdentifier", nullptr},
                         {"startDateTime", FormatIso8601(op->time_ms())},
                         {"endDateTime", FormatIso8601(end)}};
          creds.as_array().push_back(*credential);
          auto& hashes = o.secret["clientSecrets"];
          if (!hashes.is_object()) hashes = json::object{};
          hashes.as_object()[key_id] = crypto::HashClientSecret(secret);
          MERIDIAN_RETURN_IF_ERROR(SetPut(op, "application", o, &before, kSecretsActivity));
          return Status::Ok();
        },
        [this, ctx, credential, secret, done](Result<store::Partition::Ack> ack) {
          Object shown;  // the credential, with the secret this once
          shown.data = std::move(*credential);
          shown.data["secretText"] = secret;
          done(Written(ctx, std::move(shown), ack));
        });
    return Status::Ok();
  });
}

void Directory::RemovePassword(const SecurityContext& ctx, std::string_view app_id,
                               std::string_view key_id, WriteDone done) {
  Start(done, [&]() -> Status {
    const TypeSchema& type = *FindType("application");
    MERIDIAN_ASSIGN_OR_RETURN(Object found, Lookup(ctx, type, app_id));
    TenantKeys keys(ctx.tenant_id());
    Intent intent{authz::Action::kManageCredentials, "application", found.id, kSecretsActivity};
    Submit(
        ctx, intent,
        [&](const store::ReadView& view, const authz::Target&, proto::Op* op) -> Status {
          MERIDIAN_ASSIGN_OR_RETURN(Object o, ReadObject(view, keys, "application", found.id));
          const Object before = o;
          auto& creds = o.data["passwordCredentials"];
          json::array kept;
          bool removed = false;
          if (creds.is_array()) {
            for (auto& c : creds.as_array()) {
              if (c.is_object() && Str(c.get_object(), "keyId") == AsciiLower(key_id))
                removed = true;
              else
                kept.push_back(c);
            }
          }
          if (!removed)
            return NotFound("No password credential with keyId '" + std::string(key_id) + "'.");
          creds = std::move(kept);
          if (auto* h = o.secret.if_contains("clientSecrets"); h && h->is_object()) {
            h->as_object().erase(AsciiLower(key_id));
          }
          MERIDIAN_RETURN_IF_ERROR(SetPut(op, "application", o, &before, kSecretsActivity));
          return Status::Ok();
        },
        [this, ctx, done](Result<store::Partition::Ack> ack) { done(Written(ctx, {}, ack)); });
    return Status::Ok();
  });
}

// ---------------------------------------------------------------- links

void Directory::AddLink(const SecurityContext& ctx, std::string_view relation,
                        const TypeSchema& source_type, std::string_view source_id,
                        std::string_view target_id, WriteDone done) {
  ChangeLink(ctx, true, relation, source_type, source_id, target_id, std::move(done));
}

void Directory::RemoveLink(const SecurityContext& ctx, std::string_view relation,
                           const TypeSchema& source_type, std::string_view source_id,
                           std::string_view target_id, WriteDone done) {
  ChangeLink(ctx, false, relation, source_type, source_id, target_id, std::move(done));
}

void Directory::ChangeLink(const SecurityContext& ctx, bool add, std::string_view relation,
                           const TypeSchema& source_type, std::string_view source_id,
                           std::string_view target_id, WriteDone done) {
  TenantKeys keys(ctx.tenant_id());
  std::string target = AsciiLower(target_id);
  std::string source = AsciiLower(source_id);
  std::string what = relation == "members" ? "member" : "owner";
  Intent intent{relation == "members" ? authz::Action::kManageMembers
                                      : authz::Action::kManageOwners,
                std::string(source_type.type), source,
                add ? "Add " + what + " to " + std::string(source_type.name())
                    : "Remove " + what + " from " + std::string(source_type.name())};
  Submit(
      ctx, intent,
      [&](const store::ReadView& view, const authz::Target& facts, proto::Op* op) -> Status {
        MERIDIAN_ASSIGN_OR_RETURN(Object src, ReadObject(view, keys, source_type.type, source));
        MERIDIAN_ASSIGN_OR_RETURN(auto kind, view.Get(keys.Kind(target)));
        if (!add && relation == "members" && facts.role_assignable_group &&
            facts.roles.count(std::string(authz::kGlobalAdministrator))) {
          MERIDIAN_RETURN_IF_ERROR(EnsureGlobalAdministratorRemains(
              view, keys, {.member_of = source, .member = target}));
        }
        if (add) {
          if (!kind) {
            return NotFound("Resource '" + std::string(target_id) +
                            "' does not exist or one of its "
                            "queried reference-property objects are not present.");
          }
          bool allowed = relation == "members"
                             ? (*kind == "user" || *kind == "group" || *kind == "servicePrincipal")
                             : (*kind == "user" || *kind == "servicePrincipal");
          if (!allowed) {
            return InvalidArgument(
                "An object of type " + *kind + " cannot be added to " + std::string(relation) + ".",
                "Request_BadRequest");
          }
        }
        // The apply checks that the link exists (remove) or does not yet (add).
        proto::Link* l = add ? op->mutable_add_link() : op->mutable_remove_link();
        l->set_relation(std::string(relation));
        l->set_source_type(std::string(source_type.type));
        l->set_source_id(src.id);
        l->set_target_type(kind.value_or(""));
        l->set_target_id(target);
        l->set_activity(intent.activity);
        return Status::Ok();
      },
      [this, ctx, done](Result<store::Partition::Ack> ack) { done(Written(ctx, {}, ack)); });
}

Result<Page> Directory::List(const SecurityContext& ctx, const TypeSchema& type,
                             const ListQuery& q) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  return TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
      .List(type, q);
}

Result<Page> Directory::ListLinks(const SecurityContext& ctx, std::string_view relation,
                                  LinkDirection direction, std::string_view id, bool transitive,
                                  int top, std::string_view skiptoken) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  return TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
      .ListLinks(relation, direction, id, transitive, top, skiptoken);
}

Result<Page> Directory::ListAudit(const SecurityContext& ctx, int top,
                                  std::string_view skiptoken) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  return TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
      .ListAudit(top, skiptoken);
}

Result<Page> Directory::ListSignIns(const SecurityContext& ctx, const SignInQuery& q) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  return TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
      .ListSignIns(q);
}

void Directory::RecordSignIn(const SecurityContext& ctx, json::object record, WriteDone done) {
  auto p = PartitionOf(ctx);
  if (!p.ok()) return done(p.status());
  auto logged = std::make_shared<Object>();
  logged->type = "signIn";
  logged->id = random_->Uuid();
  (*p)->WriteAsync(
      [&](const store::ReadView&, proto::Op* op) -> Status {
        Stamp(ctx, op);
        record["id"] = logged->id;
        record["createdDateTime"] = FormatIso8601(op->time_ms());
        auto* s = op->mutable_sign_in();
        s->set_id(logged->id);
        s->set_user_id(Str(record, "userId"));
        s->set_app_id(Str(record, "appId"));
        s->set_record_json(json::serialize(record));
        logged->data = record;
        return Status::Ok();
      },
      [this, ctx, logged, done = std::move(done)](Result<store::Partition::Ack> ack) {
        done(Written(ctx, std::move(*logged), ack));
      });
}

Result<WriteResult> Directory::RecordSignIn(const SecurityContext& ctx, json::object record) {
  return Await([&](WriteDone done) { RecordSignIn(ctx, std::move(record), std::move(done)); });
}

Result<Client> Directory::AuthenticateClient(const SecurityContext& ctx, std::string_view app_id,
                                             std::string_view secret) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, false);
  return directory::AuthenticateClient(*view, TenantKeys(ctx.tenant_id()), clock_->NowMillis(),
                                       app_id, secret);
}

Result<Client> Directory::FindClient(const SecurityContext& ctx, std::string_view app_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  return directory::FindClient(*TenantRead(p, ctx, false), TenantKeys(ctx.tenant_id()), app_id);
}

Result<TokenUser> Directory::FindUser(const SecurityContext& ctx,
                                      std::string_view user_id) const {
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  auto view = TenantRead(p, ctx, true);
  auto gone = [] {
    return Status(Code::kUnauthenticated, "The user account does not exist or is disabled.",
                  "invalid_grant");
  };
  if (!IsUuid(user_id)) return gone();
  auto user = ReadObject(*view, TenantKeys(ctx.tenant_id()), "user", AsciiLower(user_id));
  if (!user.ok() && user.status().code() == Code::kNotFound) return gone();
  MERIDIAN_RETURN_IF_ERROR(user.status());
  if (!Bool(user->data, "accountEnabled", true)) return gone();
  TokenUser out{std::move(*user), {}};
  MERIDIAN_ASSIGN_OR_RETURN(
      Page groups, TenantReader(*view, ctx.tenant_id(), skip_tokens_, options_.max_unindexed_scan)
                       .ListLinks("members", LinkDirection::kIncoming, out.user.id, true,
                                  static_cast<int>(kMaxTokenGroups) + 1, ""));
  for (Object& g : groups.items) {
    if (g.type == "group") out.group_ids.push_back(std::move(g.id));
  }
  return out;
}

Result<std::set<std::string>> Directory::RolesOf(const SecurityContext& ctx,
                                                 std::string_view principal_id) const {
  if (ctx.kind() == SecurityContext::Kind::kOperator ||
      ctx.kind() == SecurityContext::Kind::kTokenService) {
    return std::set<std::string>();
  }
  MERIDIAN_ASSIGN_OR_RETURN(store::Partition * p, PartitionOf(ctx));
  return directory::RolesOf(*TenantRead(p, ctx, true), TenantKeys(ctx.tenant_id()), AsciiLower(principal_id),
                            true);
}



std::vector<std::pair<std::string, uint64_t>> Directory::PartitionLsns() const {
  std::vector<std::pair<std::string, uint64_t>> out;
  out.emplace_back(global_->partition().id(), global_->partition().last_lsn());
  for (const auto& [id, p] : partitions_) out.emplace_back(id, p->last_lsn());
  return out;
}

}  // namespace meridian::directory
