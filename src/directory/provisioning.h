// Provisioner: the operator's paths into tenants. It creates a tenant with everything a new
// tenant starts with (organization, initial domain, built-in roles, first administrator, a
// bootstrap application holding Global Administrator), undoes creations a crash interrupted,
// and restores an administrator to a tenant that has lost them all (break-glass). Each is
// audited as the operator's.
//
// Thread-safe; creations are serialized.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "crypto/password.h"
#include "directory/global_directory.h"
#include "store/partition.h"

namespace meridian::directory {

struct ProvisioningOptions {
  std::string cloud = "global";
  int partitions_per_region = 2;
  std::string domain_suffix = "meridian.test";  // initial domains are <name>.<suffix>
  crypto::PasswordHashing password_hashing;
  // Tests only: see DirectoryOptions::fault_point.
  std::function<Status(std::string_view point)> fault_point;
  // See DirectoryOptions::writable_here and log_elsewhere.
  std::function<bool(const std::string& partition)> writable_here;
  std::function<Status(const std::string& partition, const proto::Op& op)> log_elsewhere;
};

// The credentials a new tenant starts with; shown once.
struct NewTenant {
  TenantInfo tenant;
  std::string display_name;
  std::string admin_upn, admin_password, admin_id;
  std::string app_id, app_object_id, sp_id, client_secret;
};

// An administrator restored to a tenant by the operator (break-glass); shown once.
struct RestoredAdministrator {
  std::string tenant_id, user_id, user_principal_name, one_time_password;
};

class Provisioner {
 public:
  using Partitions = std::map<std::string, std::unique_ptr<store::Partition>>;
  // Every pointer must outlive the Provisioner.
  Provisioner(ProvisioningOptions options, Clock* clock, Random* random, GlobalDirectory* global,
              const Partitions* partitions);

  // InvalidArgument for a bad name or country (or one of another cloud). The tenant is
  // registered pending, created in its partition, then activated; see RecoverTenantCreations.
  Result<NewTenant> CreateTenant(std::string_view display_name, std::string_view country);
  // On a cluster node that holds `partition`'s primary: logs `op`, the creation of a tenant the
  // global partition holds pending in `partition`, built by the node that creates it (the global
  // primary). InvalidArgument for any other op; NotFound when no such tenant is pending (after
  // waiting 2 s for the global replica here to show it).
  Status LogCreation(const std::string& partition, const proto::Op& op);
  // Undoes every creation that a crash left pending (its credentials were never shown).
  Status RecoverTenantCreations();
  // Adds an enabled user holding Global Administrator, with a one-time password it must change,
  // to the tenant (by id or domain). NotFound for an unknown tenant.
  Result<RestoredAdministrator> RestoreAdministrator(std::string_view tenant);

 private:
  const ProvisioningOptions options_;
  Clock* const clock_;
  Random* const random_;
  GlobalDirectory* const global_;
  const Partitions* const partitions_;
  std::mutex create_tenant_mu_;
};

}  // namespace meridian::directory
