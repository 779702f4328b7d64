#include "store/tenant_view.h"

#include "store/keys.h"

namespace meridian::store {
namespace {

Status Checked(std::string_view tenant_id) {
  Status s = ValidateTenantId(tenant_id);
  if (s.ok()) return s;
  return PermissionDenied("tenant isolation: " + s.message());
}

}  // namespace

TenantView::TenantView(const ReadView& base, std::string_view tenant_id)
    : base_(base), prefix_(TenantKeys(tenant_id).prefix()), invalid_(Checked(tenant_id)) {}

TenantView::TenantView(std::unique_ptr<ReadView> base, std::string_view tenant_id)
    : owned_(std::move(base)),
      base_(*owned_),
      prefix_(TenantKeys(tenant_id).prefix()),
      invalid_(Checked(tenant_id)) {}

Result<std::optional<std::string>> TenantView::Get(std::string_view key) const {
  MERIDIAN_RETURN_IF_ERROR(invalid_);
  if (!KeyInPrefix(prefix_, key)) {
    return PermissionDenied("tenant isolation: get of " + PrintableKey(key) + " outside " +
                            PrintableKey(prefix_) + " refused");
  }
  return base_.Get(key);
}

Status TenantView::Scan(std::string_view begin, std::string_view end, bool reverse,
                        const Visitor& fn) const {
  MERIDIAN_RETURN_IF_ERROR(invalid_);
  if (!RangeInPrefix(prefix_, begin, end)) {
    return PermissionDenied("tenant isolation: scan of [" + PrintableKey(begin) + ", " +
                            PrintableKey(end) + ") outside " + PrintableKey(prefix_) + " refused");
  }
  Status escaped;
  Status s = base_.Scan(begin, end, reverse, [&](std::string_view k, std::string_view v) {
    if (!KeyInPrefix(prefix_, k)) {
      escaped = Internal("tenant isolation: scan of " + PrintableKey(prefix_) + " was handed " +
                         PrintableKey(k));
      return false;
    }
    return fn(k, v);
  });
  MERIDIAN_RETURN_IF_ERROR(escaped);
  return s;
}

}  // namespace meridian::store
