#include "directory/global_directory.h"

#include <algorithm>
#include <boost/json.hpp>

#include "common/encoding.h"
#include "directory/records.h"
#include "directory/signing_keys.h"
#include "store/keys.h"

namespace meridian::directory {
namespace json = boost::json;

namespace {

TenantInfo InfoOf(const json::object& rec) {
  TenantInfo t{Str(rec, "id"), Str(rec, "region"), Str(rec, "partition"), {}};
  if (auto* d = rec.if_contains("domains"); d && d->is_array()) {
    for (const auto& x : d->get_array()) {
      if (x.is_string()) t.domains.emplace_back(x.get_string());
    }
  }
  return t;
}

// Visits every tenant record, pending ones included.
Status ScanTenants(const store::Partition& p, const std::function<void(json::object)>& fn) {
  std::string prefix = GlobalTenantKey("");
  Status err;
  MERIDIAN_RETURN_IF_ERROR(p.Snapshot()->Scan(prefix, store::PrefixEnd(prefix), false,
                                              [&](std::string_view, std::string_view v) {
                                                auto rec = ParseObject(v, "tenant record");
                                                if (!rec.ok()) {
                                                  err = rec.status();
                                                  return false;
                                                }
                                                fn(std::move(rec).value());
                                                return true;
                                              }));
  return err;
}

}  // namespace

Result<std::unique_ptr<GlobalDirectory>> GlobalDirectory::Open(
    const std::string& path, const store::PartitionOptions& options, Clock* clock, Random* random) {
  std::unique_ptr<GlobalDirectory> g(new GlobalDirectory(clock, random));
  MERIDIAN_ASSIGN_OR_RETURN(g->partition_,
                            store::Partition::Open("global", path, &g->machine_, options));
  return g;
}

Status GlobalDirectory::Write(const std::function<void(proto::Op*)>& fill) {
  return partition_
      ->Write([&](const store::ReadView&, proto::Op* op) {
        op->set_time_ms(clock_->NowMillis());
        fill(op);
        return Status::Ok();
      })
      .status();
}

Result<std::shared_ptr<const TenantInfo>> GlobalDirectory::Route(
    std::string_view id_or_domain) const {
  if (auto hit = routes_.Get(id_or_domain)) return *std::move(hit);
  auto view = partition_->Latest();
  std::string id(id_or_domain);
  if (!IsUuid(id)) {
    MERIDIAN_ASSIGN_OR_RETURN(auto owner, view->Get(GlobalDomainKey(AsciiLower(id_or_domain))));
    if (!owner) return NotFound("Tenant '" + id + "' not found.");
    id = *owner;
  } else {
    id = AsciiLower(id);
  }
  MERIDIAN_ASSIGN_OR_RETURN(auto raw, view->Get(GlobalTenantKey(id)));
  if (!raw) return NotFound("Tenant '" + id + "' not found.");
  MERIDIAN_ASSIGN_OR_RETURN(json::object rec, ParseObject(*raw, "tenant record"));
  if (rec.contains("pending")) return NotFound("Tenant '" + id + "' not found.");
  std::shared_ptr<const TenantInfo> route = std::make_shared<TenantInfo>(InfoOf(rec));
  routes_.Put(id_or_domain, route);
  return route;
}

Result<int64_t> GlobalDirectory::TenantCount() const {
  int64_t n = 0;
  MERIDIAN_RETURN_IF_ERROR(ScanTenants(*partition_, [&](json::object rec) {
    if (!rec.contains("pending")) ++n;
  }));
  return n;
}

Result<std::vector<TenantInfo>> GlobalDirectory::PendingTenants() const {
  std::vector<TenantInfo> out;
  MERIDIAN_RETURN_IF_ERROR(ScanTenants(*partition_, [&](json::object rec) {
    if (rec.contains("pending")) out.push_back(InfoOf(rec));
  }));
  return out;
}

Result<std::vector<TenantInfo>> GlobalDirectory::ActiveTenants() const {
  std::vector<TenantInfo> out;
  MERIDIAN_RETURN_IF_ERROR(ScanTenants(*partition_, [&](json::object rec) {
    if (!rec.contains("pending")) out.push_back(InfoOf(rec));
  }));
  return out;
}

Result<bool> GlobalDirectory::DomainTaken(std::string_view domain) const {
  MERIDIAN_ASSIGN_OR_RETURN(auto owner, partition_->Latest()->Get(GlobalDomainKey(domain)));
  return owner.has_value();
}

Status GlobalDirectory::RegisterPending(const TenantInfo& t) {
  return Write([&](proto::Op* op) {
    auto* r = op->mutable_register_tenant();
    r->set_tenant_id(t.id);
    r->set_region(t.region);
    r->set_partition(t.partition);
    for (const std::string& d : t.domains) r->add_domains(d);
    r->set_pending(true);
  });
}

Status GlobalDirectory::Activate(std::string_view tenant_id) {
  return Write(
      [&](proto::Op* op) { op->mutable_activate_tenant()->set_tenant_id(std::string(tenant_id)); });
}

Status GlobalDirectory::Abandon(std::string_view tenant_id) {
  return Write(
      [&](proto::Op* op) { op->mutable_abandon_tenant()->set_tenant_id(std::string(tenant_id)); });
}

Result<std::vector<proto::SigningKey>> GlobalDirectory::SigningKeys() const {
  return ReadSigningKeys(*partition_->Snapshot());
}

Status GlobalDirectory::AddSigningKey(const proto::SigningKey& key) {
  return Write([&](proto::Op* op) { *op->mutable_signing_key() = key; });
}

Result<std::string> GlobalDirectory::ServiceSecret(std::string_view name, size_t size) {
  std::string key = GlobalServiceSecretKey(name);
  MERIDIAN_ASSIGN_OR_RETURN(auto stored, partition_->Latest()->Get(key));
  if (!stored) {
    std::string value = random_->Bytes(size);
    MERIDIAN_RETURN_IF_ERROR(Write([&](proto::Op* op) {
      op->mutable_service_secret()->set_name(std::string(name));
      op->mutable_service_secret()->set_value(value);
    }));
    stored = value;
  }
  if (stored->size() != size)
    return Internal("the stored secret " + std::string(name) + " is corrupt");
  return *stored;
}

Status GlobalDirectory::CheckHealth() const {
  return partition_->Latest()->Get("H").status();  // no key starts with H: a read of the store
}

}  // namespace meridian::directory
