// The read paths of one tenant that scan: filtered and ordered lists served from indexes,
// relationships (direct and transitive) from the link indexes, and the audit log, each paged with
// skip tokens. A TenantReader is a function of one view of one tenant; the directory makes one
// per call, over a TenantView, so nothing here can reach another tenant's keys.
//
// Skip tokens are "<payload>.<mac>", both base64url: the payload is {"b": branch, "k": the last
// key consumed, relative to the tenant's prefix}; the MAC is HMAC-SHA256 (first 16 bytes) under
// the deployment's skip-token key over the tenant id, a fingerprint of the query and the payload.
// A token can therefore not be forged, nor carried to another tenant or query, and the position
// it names is still checked to lie in the query's own ranges before a scan resumes.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "directory/api.h"
#include "directory/sign_ins.h"
#include "store/keys.h"
#include "store/partition.h"

namespace meridian::directory {

struct SkipPosition {
  size_t branch = 0;
  std::string key;  // relative to the tenant prefix; the scan resumes at it; empty = start
};

// Makes and checks skip tokens under one key. Immutable; thread-safe.
class SkipTokens {
 public:
  explicit SkipTokens(std::string key = "") : key_(std::move(key)) {}
  std::string Make(std::string_view tenant, std::string_view fingerprint, size_t branch,
                   std::string_view relative_key) const;
  // The position of `token` (the start when empty); InvalidArgument when the MAC, tenant or
  // fingerprint does not match or the token is malformed.
  Result<SkipPosition> Parse(std::string_view token, std::string_view tenant,
                             std::string_view fingerprint) const;
  static Status Bad();

 private:
  std::string key_;
};

// Not thread-safe (it borrows a view); cheap to make.
class TenantReader {
 public:
  // `view` and `tokens` must outlive the reader.
  TenantReader(const store::ReadView& view, std::string tenant, const SkipTokens& tokens,
               int64_t max_unindexed_scan);

  Result<int64_t> Count(const TypeSchema& type) const;
  // See TenantDirectory::List. Unsupported (Request_UnsupportedQuery) for a filter no index
  // serves once the type has more than max_unindexed_scan objects.
  Result<Page> List(const TypeSchema& type, const ListQuery& q) const;
  Result<Page> ListLinks(std::string_view relation, LinkDirection direction, std::string_view id,
                         bool transitive, int top, std::string_view skiptoken) const;
  // Newest first.
  Result<Page> ListAudit(int top, std::string_view skiptoken) const;
  // Newest first (see directory/sign_ins.h).
  Result<Page> ListSignIns(const SignInQuery& q) const;

 private:
  const store::ReadView& view_;
  const std::string tenant_;
  const store::TenantKeys keys_;
  const SkipTokens& tokens_;
  const int64_t max_unindexed_scan_;
};

}  // namespace meridian::directory
