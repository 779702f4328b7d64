#include "directory/provisioning.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <thread>

#include "authz/authz.h"
#include "common/encoding.h"
#include "crypto/password.h"
#include "crypto/secret.h"
#include "directory/first_party.h"
#include "directory/password_policy.h"
#include "directory/records.h"
#include "directory/regions.h"
#include "directory/security_context.h"
#include "store/keys.h"
#include "store/tenant_view.h"

namespace meridian::directory {
namespace json = boost::json;
using store::TenantKeys;

namespace {

struct BuiltInRole {
  std::string_view id, name, description;
};
using namespace authz;  // the built-in role template ids
constexpr BuiltInRole kBuiltInRoles[] = {
    {kGlobalAdministrator, "Global Administrator", "Can manage all aspects of the directory."},
    {kUserAdministrator, "User Administrator", "Can manage all aspects of users and groups."},
    {kGroupsAdministrator, "Groups Administrator", "Can manage all aspects of groups."},
    {kApplicationAdministrator, "Application Administrator",
     "Can create and manage all aspects of app registrations and enterprise apps."},
    {kPrivilegedRoleAdministrator, "Privileged Role Administrator", "Can manage role assignments."},
    {kGlobalReader, "Global Reader", "Can read everything that a Global Administrator can."},
    {kDirectoryReaders, "Directory Readers", "Can read basic directory information."},
};

// A lower-case DNS label made of the tenant's name: "Contoso Ltd." -> "contosoltd".
std::string DomainLabel(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (isalnum(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(tolower(c)));
    if (out.size() >= 27) break;
  }
  return out.empty() ? "tenant" : out;
}

constexpr std::string_view kBreakGlassName = "Break-glass administrator";
constexpr std::string_view kBreakGlassAlias = "break-glass";

// An enabled member user who must change `password_hash`'s password at first sign-in.
Object AdministratorUser(std::string id, const std::string& upn, std::string_view display_name,
                         std::string_view nickname, const std::string& created,
                         std::string password_hash) {
  Object user;
  user.id = std::move(id);
  user.data = {{"id", user.id},
               {"userPrincipalName", upn},
               {"displayName", display_name},
               {"mailNickname", nickname},
               {"accountEnabled", true},
               {"userType", "Member"},
               {"createdDateTime", created}};
  user.secret = {{"passwordHash", std::move(password_hash)},
                 {"forceChangePasswordNextSignIn", true}};
  return user;
}

Object GlobalAdministratorAssignment(std::string id, const std::string& principal) {
  Object ra;
  ra.id = std::move(id);
  ra.data = {{"id", ra.id},
             {"principalId", principal},
             {"roleDefinitionId", authz::kGlobalAdministrator},
             {"directoryScopeId", "/"}};
  return ra;
}

}  // namespace

Provisioner::Provisioner(ProvisioningOptions options, Clock* clock, Random* random,
                         GlobalDirectory* global, const Partitions* partitions)
    : options_(std::move(options)),
      clock_(clock),
      random_(random),
      global_(global),
      partitions_(partitions) {}

// A creation interrupted between its three writes left a pending global record, and maybe the
// tenant's keys in its partition. Its credentials were never shown to anyone, so it is undone.
Status Provisioner::RecoverTenantCreations() {
  MERIDIAN_ASSIGN_OR_RETURN(auto pending, global_->PendingTenants());
  for (const TenantInfo& t : pending) {
    auto it = partitions_->find(t.partition);
    if (it == partitions_->end()) {
      return Internal("pending tenant " + t.id + " names partition " + t.partition);
    }
    MERIDIAN_ASSIGN_OR_RETURN(auto org, it->second->Latest()->Get(TenantKeys(t.id).Organization()));
    if (org) {
      MERIDIAN_RETURN_IF_ERROR(it->second
                                   ->Write([&](const store::ReadView&, proto::Op* op) {
                                     op->set_tenant_id(t.id);
                                     op->set_time_ms(clock_->NowMillis());
                                     op->mutable_abort_tenant();
                                     return Status::Ok();
                                   })
                                   .status());
    }
    MERIDIAN_RETURN_IF_ERROR(global_->Abandon(t.id));
  }
  return Status::Ok();
}

Result<NewTenant> Provisioner::CreateTenant(std::string_view display_name,
                                            std::string_view country) {
  if (display_name.empty() || display_name.size() > 256) {
    return InvalidArgument("a tenant name of 1 to 256 characters is required");
  }
  MERIDIAN_ASSIGN_OR_RETURN(Region region, RegionForCountry(country, options_.cloud));
  // One creation at a time, so that two tenants cannot both pick the same free initial domain.
  std::lock_guard<std::mutex> lock(create_tenant_mu_);
  NewTenant nt;
  nt.display_name = std::string(display_name);
  nt.tenant.id = random_->Uuid();
  nt.tenant.region = std::string(RegionCode(region));
  // Placement: a tenant id is random, so its first bytes spread tenants evenly over the region's
  // partitions; the choice is recorded and never recomputed.
  unsigned long n = static_cast<unsigned long>(options_.partitions_per_region);
  nt.tenant.partition = nt.tenant.region + "-" +
                        std::to_string(std::stoul(nt.tenant.id.substr(0, 8), nullptr, 16) % n + 1);
  // Logged here when this node holds the partition's primary; on a cluster node, otherwise, on
  // the node that does (a node of the tenant's region: nothing of the tenant is stored here).
  store::Partition* partition = nullptr;
  if (auto it = partitions_->find(nt.tenant.partition);
      it != partitions_->end() &&
      (!options_.writable_here || options_.writable_here(nt.tenant.partition))) {
    partition = it->second.get();
  } else if (!options_.log_elsewhere) {
    return Internal("partition " + nt.tenant.partition + " is not held here");
  }

  // The initial domain must be unique across the deployment.
  std::string label = DomainLabel(display_name), domain;
  for (int i = 0;; ++i) {
    domain = label + (i == 0 ? "" : std::to_string(i)) + "." + options_.domain_suffix;
    MERIDIAN_ASSIGN_OR_RETURN(bool taken, global_->DomainTaken(domain));
    if (!taken) break;
    if (i > 1000) return Internal("cannot find a free initial domain for " + label);
  }
  nt.tenant.domains = {domain};

  int64_t now = clock_->NowMillis();
  std::string created = FormatIso8601(now);
  proto::Op op;
  op.set_tenant_id(nt.tenant.id);
  op.set_time_ms(now);
  *op.mutable_actor() = ContextMint::Operator(nt.tenant.id).ToActor();
  json::object org{
      {"id", nt.tenant.id},
      {"displayName", nt.display_name},
      {"countryLetterCode", std::string(country)},
      {"createdDateTime", created},
      {"tenantType", "AAD"},
      {"verifiedDomains",
       json::array{{{"name", domain},
                    {"isDefault", true},
                    {"isInitial", true},
                    {"type", "Managed"},
                    {"capabilities", "Email, OfficeCommunicationsOnlineService"}}}},
      {"dataLocation", {{"region", nt.tenant.region}, {"partition", nt.tenant.partition}}},
  };
  for (char& c : org["countryLetterCode"].as_string()) c = static_cast<char>(toupper(c));
  auto* ct = op.mutable_create_tenant();
  ct->set_organization_json(json::serialize(org));
  auto add = [&](std::string_view type, const Object& o) {
    SetCreate(ct->add_objects(), type, o, "");
  };
  Object dom;
  dom.id = domain;
  dom.data = {{"id", domain},
              {"isVerified", true},
              {"isDefault", true},
              {"isInitial", true},
              {"authenticationType", "Managed"},
              {"supportedServices", json::array{"Email", "OfficeCommunicationsOnlineService"}}};
  add("domain", dom);
  for (const BuiltInRole& r : kBuiltInRoles) {
    Object role;
    role.id = std::string(r.id);
    role.data = {{"id", r.id},
                 {"displayName", r.name},
                 {"description", r.description},
                 {"isBuiltIn", true},
                 {"isEnabled", true},
                 {"templateId", r.id},
                 {"version", "1"},
                 {"rolePermissions", json::array{}}};
    add("roleDefinition", role);
  }
  // First administrator.
  nt.admin_id = random_->Uuid();
  nt.admin_upn = "admin@" + domain;
  Object admin =
      AdministratorUser(nt.admin_id, nt.admin_upn, "Administrator", "admin", created, "");
  MERIDIAN_ASSIGN_OR_RETURN(nt.admin_password,
                            GeneratePassword(random_, PasswordOwnerOf(admin.data, display_name)));
  MERIDIAN_ASSIGN_OR_RETURN(
      std::string admin_hash,
      crypto::HashPassword(nt.admin_password, random_->Bytes(crypto::kPasswordSaltBytes),
                           options_.password_hashing));
  admin.secret["passwordHash"] = std::move(admin_hash);
  add("user", admin);
  // Bootstrap application, its service principal and a client secret.
  Object app;
  app.id = random_->Uuid();
  nt.app_object_id = app.id;
  nt.app_id = random_->Uuid();
  nt.client_secret = crypto::GenerateClientSecret(*random_);
  std::string key_id = random_->Uuid();
  app.data = {{"id", app.id},
              {"appId", nt.app_id},
              {"displayName", "Meridian bootstrap"},
              {"signInAudience", "AzureADMyOrg"},
              {"publisherDomain", domain},
              {"createdDateTime", created},
              {"identifierUris", json::array{}},
              {"passwordCredentials",
               json::array{{{"keyId", key_id},
                            {"displayName", "bootstrap"},
                            {"hint", crypto::SecretHint(nt.client_secret)},
                            {"startDateTime", created},
                            {"endDateTime", FormatIso8601(now + kClientSecretLifetimeMs)}}}}};
  app.secret = {{"clientSecrets", {{key_id, crypto::HashClientSecret(nt.client_secret)}}}};
  add("application", app);
  Object sp;
  sp.id = random_->Uuid();
  nt.sp_id = sp.id;
  sp.data = {{"id", sp.id},
             {"appId", nt.app_id},
             {"displayName", "Meridian bootstrap"},
             {"appDisplayName", "Meridian bootstrap"},
             {"accountEnabled", true},
             {"appOwnerOrganizationId", nt.tenant.id},
             {"servicePrincipalType", "Application"},
             {"servicePrincipalNames", json::array{nt.app_id}},
             {"appRoles", json::array{}}};
  add("servicePrincipal", sp);
  add("servicePrincipal", GraphServicePrincipal(random_->Uuid()));
  for (const std::string& principal : {admin.id, sp.id}) {
    add("roleAssignment", GlobalAdministratorAssignment(random_->Uuid(), principal));
  }

  // Three writes: reserve the id and domain (pending, not routable), create the tenant in its
  // partition, activate. Open() undoes whatever a crash leaves between them.
  MERIDIAN_RETURN_IF_ERROR(global_->RegisterPending(nt.tenant));
  if (options_.fault_point)
    MERIDIAN_RETURN_IF_ERROR(options_.fault_point("create-tenant:reserved"));
  if (partition) {
    MERIDIAN_RETURN_IF_ERROR(partition
                                 ->Write([&](const store::ReadView&, proto::Op* out) {
                                   *out = op;
                                   return Status::Ok();
                                 })
                                 .status());
  } else {
    MERIDIAN_RETURN_IF_ERROR(options_.log_elsewhere(nt.tenant.partition, op));
  }
  if (options_.fault_point) MERIDIAN_RETURN_IF_ERROR(options_.fault_point("create-tenant:created"));
  MERIDIAN_RETURN_IF_ERROR(global_->Activate(nt.tenant.id));
  return nt;
}

Status Provisioner::LogCreation(const std::string& partition, const proto::Op& op) {
  if (!op.has_create_tenant() || op.tenant_id().empty() || op.lsn() != 0) {
    return InvalidArgument("only a tenant's creation is logged for another node");
  }
  auto it = partitions_->find(partition);
  if (it == partitions_->end()) return NotFound("partition " + partition + " is not held here");
  // The creating node registered the tenant pending before it sent the op; the global replica
  // here may not have applied that yet.
  int64_t deadline = clock_->NowMillis() + 2000;
  for (;;) {
    MERIDIAN_ASSIGN_OR_RETURN(auto pending, global_->PendingTenants());
    bool found = std::any_of(pending.begin(), pending.end(), [&](const TenantInfo& t) {
      return t.id == op.tenant_id() && t.partition == partition;
    });
    if (found) break;
    if (clock_->NowMillis() >= deadline) {
      return NotFound("no tenant " + op.tenant_id() + " is pending in partition " + partition);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return it->second
      ->Write([&](const store::ReadView&, proto::Op* out) {
        *out = op;
        return Status::Ok();
      })
      .status();
}

Result<RestoredAdministrator> Provisioner::RestoreAdministrator(std::string_view tenant) {
  MERIDIAN_ASSIGN_OR_RETURN(auto route, global_->Route(tenant));
  SecurityContext ctx = ContextMint::Operator(route->id);
  store::Partition* p = partitions_->at(route->partition).get();
  RestoredAdministrator out;
  out.tenant_id = route->id;
  out.user_id = random_->Uuid();
  // The password satisfies the policy for the user as it will be (the alias's number is too short
  // to match) in the organization as it is now.
  std::string organization;
  {
    std::unique_ptr<store::ReadView> latest = p->Latest();
    store::TenantView view(*latest, route->id);
    MERIDIAN_ASSIGN_OR_RETURN(auto org_raw, view.Get(TenantKeys(route->id).Organization()));
    if (!org_raw) return NotFound("tenant " + route->id + " has no organization here");
    MERIDIAN_ASSIGN_OR_RETURN(json::object org, ParseObject(*org_raw, "organization"));
    organization = Str(org, "displayName");
  }
  PasswordOwner owner{{std::string(kBreakGlassName), std::string(kBreakGlassAlias)}, organization};
  MERIDIAN_ASSIGN_OR_RETURN(out.one_time_password, GeneratePassword(random_, owner));
  MERIDIAN_ASSIGN_OR_RETURN(
      std::string hash,
      crypto::HashPassword(out.one_time_password, random_->Bytes(crypto::kPasswordSaltBytes),
                           options_.password_hashing));
  std::string assignment_id = random_->Uuid();
  TenantKeys keys(route->id);
  auto lsn = p->Write([&](const store::ReadView& partition_view, proto::Op* op) -> Status {
    store::TenantView view(partition_view, route->id);
    op->set_tenant_id(route->id);
    op->set_time_ms(clock_->NowMillis());
    *op->mutable_actor() = ctx.ToActor();
    // A fresh alias on the initial domain: break-glass-1, break-glass-2, ...
    std::string domain = route->domains.empty() ? "" : route->domains[0];
    for (int i = 1;; ++i) {
      out.user_principal_name =
          std::string(kBreakGlassAlias) + "-" + std::to_string(i) + "@" + domain;
      // Free as a UPN and as an address: a narrower administrator may have given the alias to
      // some user's mail or a group, and break-glass must not be blockable.
      std::string upn = AsciiLower(out.user_principal_name);
      MERIDIAN_ASSIGN_OR_RETURN(auto taken,
                                view.Get(keys.Unique("user", "userPrincipalName", upn)));
      MERIDIAN_ASSIGN_OR_RETURN(auto claimed, view.Get(keys.Unique("*", "address", upn)));
      if (!taken && !claimed) break;
      if (i > 1000) return Internal("no free break-glass alias");
    }
    Object user = AdministratorUser(out.user_id, out.user_principal_name, kBreakGlassName,
                                    kBreakGlassAlias, FormatIso8601(op->time_ms()), hash);
    Object ra = GlobalAdministratorAssignment(assignment_id, user.id);
    auto* puts = op->mutable_put_objects();
    SetCreate(puts->add_objects(), "user", user, "Restore administrator (break glass)");
    SetCreate(puts->add_objects(), "roleAssignment", ra, "Add member to role (break glass)");
    return Status::Ok();
  });
  MERIDIAN_RETURN_IF_ERROR(lsn.status());
  return out;
}

}  // namespace meridian::directory
