// The deterministic state machines of the directory: TenantMachine applies ops to a partition
// of tenant data (objects, their indexes, links, counters, audit records); GlobalMachine applies
// ops to the global tenant directory (routing metadata and signing keys only).
//
// Stored object record (JSON): {"v": <LSN of last change>, "d": {<Graph properties>},
// "s": {<secrets: hashes, never returned>}}. The ETag of an object is derived from "v".
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

}  // namespace meridian::directory
