// The deterministic state machines of the directory: TenantMachine applies ops to a partition
// of tenant data (objects, their indexes, links, counters, audit records); GlobalMachine applies
// ops to the global tenant directory (routing metadata and signing keys only).
//
// The stored object record is described in directory/records.h. Every op's effects and its
// audit records (result success; failure for a Refusal op) go into the same batch.
#pragma once

#include <string>

#include <boost/json/object.hpp>

#include "store/partition.h"

namespace meridian::directory {

class TenantMachine final : public store::StateMachine {
 public:
  Status Apply(const proto::Op& op, store::WriteContext* ctx) override;
};

class GlobalMachine final : public store::StateMachine {
 public:
  Status Apply(const proto::Op& op, store::WriteContext* ctx) override;
};

// The folded form of a property value in an index: strings lower-cased, booleans "true"/"false".
// Returns false for values that are not indexed (null, objects).
bool IndexValue(const boost::json::value& v, std::string* out);

// Global directory keys.
std::string GlobalTenantKey(std::string_view tenant_id);
std::string GlobalDomainKey(std::string_view domain);  // domain is lower-cased by the caller
std::string GlobalSigningKeyPrefix();
std::string GlobalServiceSecretKey(std::string_view name);

}  // namespace meridian::directory
