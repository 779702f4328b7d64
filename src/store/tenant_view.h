// TenantView: a read guard that confines reads to one tenant's keys. The directory reads a
// tenant's data through one, so that a key or range built wrongly (from a bug, or from a skip
// token a client sent back) cannot reach another tenant's data: it is refused, never answered
// with another tenant's records and never silently with an empty result.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "store/partition.h"

namespace meridian::store {

// A ReadView of the keys under "T" <tenant_id> "/" (TenantKeys(tenant_id).prefix()) of another
// ReadView. Get of a key outside the prefix, and Scan of a range not wholly inside it (one that
// starts inside and ends outside included), return kPermissionDenied naming the key or range,
// without reading. An invalid tenant id (empty, or containing '/', see ValidateTenantId) makes
// every read fail with kPermissionDenied. Should the underlying view hand a Scan a key outside
// the range it asked for, the scan stops and fails with kInternal.
//
// Like every ReadView, not thread-safe; it holds no lock of its own, so its thread safety is the
// underlying view's. It either borrows the view (which must outlive it) or owns it.
class TenantView final : public ReadView {
 public:
  TenantView(const ReadView& base, std::string_view tenant_id);
  TenantView(std::unique_ptr<ReadView> base, std::string_view tenant_id);

  // "T" <tenant_id> "/".
  const std::string& prefix() const { return prefix_; }

  Result<std::optional<std::string>> Get(std::string_view key) const override;
  Status Scan(std::string_view begin, std::string_view end, bool reverse,
              const Visitor& fn) const override;

 private:
  std::unique_ptr<ReadView> owned_;
  const ReadView& base_;
  const std::string prefix_;
  const Status invalid_;  // Ok for a valid tenant id
};

}  // namespace meridian::store
