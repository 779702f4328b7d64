// GlobalDirectory: the deployment-wide partition. It holds routing metadata only (tenant id ->
// region and partition, verified domain -> tenant), the token-signing keys and the
// deployment's service secrets; never a tenant's objects or any personal data.
//
// Thread-safe: reads run concurrently; writes are serialized by the partition.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bounded_cache.h"
#include "common/clock.h"
#include "common/random.h"
#include "common/status.h"
#include "directory/state_machine.h"
#include "store/partition.h"

namespace meridian::directory {

struct TenantInfo {
  std::string id;
  std::string region;     // region code, e.g. "emea"
  std::string partition;  // partition id, e.g. "emea-2"
  std::vector<std::string> domains;
};

class GlobalDirectory {
 public:
  // Opens (creating) the global partition at `path`. `clock` and `random` must outlive it.
  static Result<std::unique_ptr<GlobalDirectory>> Open(const std::string& path,
                                                       const store::PartitionOptions& options,
                                                       Clock* clock, Random* random);

  // An active tenant by id or any verified domain; NotFound when unknown or still pending.
  // Cached: a tenant's region and partition never change.
  Result<std::shared_ptr<const TenantInfo>> Route(std::string_view id_or_domain) const;
  // Active tenants (a scan: for start-up, not for request paths).
  Result<int64_t> TenantCount() const;
  // Whether `domain` (lower case) belongs to any tenant, pending ones included.
  Result<bool> DomainTaken(std::string_view domain) const;
  // Tenants registered pending and never activated: creations a crash interrupted.
  Result<std::vector<TenantInfo>> PendingTenants() const;
  // Every active tenant's routing record, in id order (a scan: for the operator's residency
  // report, never for a request of a tenant). An undecodable record fails the whole call.
  Result<std::vector<TenantInfo>> ActiveTenants() const;

  // The three steps of a tenant's registration (see proto RegisterTenant).
  Status RegisterPending(const TenantInfo& tenant);
  Status Activate(std::string_view tenant_id);
  Status Abandon(std::string_view tenant_id);

  // Token-signing keys in the schedule's order (directory/signing_keys.h), newest last; Internal
  // when one cannot be decoded (never skipped).
  Result<std::vector<proto::SigningKey>> SigningKeys() const;
  // Logs `key`: a new key (refused with FailedPrecondition unless the newest stored key is its
  // follows_kid) or the sealed form of a stored plaintext key (seals_stored); see
  // ApplySigningKey. kUnavailable on a cluster node that is not the global partition's primary.
  Status AddSigningKey(const proto::SigningKey& key);

  // The service secret `name` of `size` random bytes, made on first use and shared by every
  // node that reads this partition.
  Result<std::string> ServiceSecret(std::string_view name, size_t size);

  // Reads the partition once (for readiness).
  Status CheckHealth() const;
  const store::Partition& partition() const { return *partition_; }
  store::Partition* mutable_partition() { return partition_.get(); }

 private:
  GlobalDirectory(Clock* clock, Random* random) : clock_(clock), random_(random) {}
  Status Write(const std::function<void(proto::Op*)>& fill);

  Clock* const clock_;
  Random* const random_;
  GlobalMachine machine_;
  std::unique_ptr<store::Partition> partition_;
  // Tenant id or domain -> routing record. Unknown names are not cached.
  mutable BoundedCache<std::shared_ptr<const TenantInfo>> routes_{100000};
};

}  // namespace meridian::directory
