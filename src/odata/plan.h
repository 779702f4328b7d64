// The index planner: turns a parsed $filter into index ranges whose union contains every object
// the filter can match, so that the store scans those ranges instead of the whole collection.
//
// The store scans each branch's range, skips an object an earlier branch already produced
// (re-checking earlier branches' ranges), and applies Matches() with the full filter to every
// candidate unless the plan is exact.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "odata/filter.h"

namespace meridian::odata {

// Plans with more branches than this are not served (each candidate is re-checked against every
// earlier branch, so the store's cost grows with the square of the branch count).
inline constexpr size_t kMaxPlanBranches = 200;

// One range of one index. Bounds are in the index's encoding (see FoldForIndex): the index holds,
// per object, the folded value of the property (for a collection, one entry per element).
struct Range {
  // The indexed property: "displayName", "onPremisesExtensionAttributes/extensionAttribute1",
  // "proxyAddresses" (a string collection's element index), "assignedLicenses/skuId" (a
  // sub-property of an object collection's elements).
  std::string prop;
  enum class Kind {
    kEq,        // entries whose value == low
    kPrefix,    // entries whose value starts with low
    kInterval,  // entries between low and high, per has_* and *_inclusive
  };
  Kind kind = Kind::kEq;
  std::string low, high;
  bool has_low = false, has_high = false;  // kInterval: false means unbounded on that side
  bool low_inclusive = true, high_inclusive = true;

  bool operator==(const Range&) const = default;
};

// The ranges to scan. `branches` is never empty.
struct Plan {
  std::vector<Range> branches;
  // True when an object is in some branch's range if and only if it matches the filter, so the
  // residual Matches() may be skipped. Assumes stored values have the property's schema type,
  // and allows for the store's null entry (one 0 byte for a missing or null single value): a
  // range that may reach it (prefix "" or a lower bound of "") is never exact.
  bool exact = false;
};

// Plans `root` (a validated tree from ParseFilter). `indexed(prop)` tells whether `prop` (in the
// Range::prop form above) has an index. Returns nullopt when no set of ranges is known to cover
// the filter ("not servable"): the caller then scans everything or refuses the query.
//
// Rules: `p eq v` -> kEq; `startswith(p,'v')` -> kPrefix; `p in (...)` -> one kEq per distinct
// value, sorted; gt/ge/lt/le -> kInterval, and such bounds on one property directly within one
// `and` merge into one interval; `A and B` -> the best servable conjunct (kEq over kPrefix over
// kInterval, then fewer branches, then exact, then the merge covering most conjuncts);
// `A or B` -> all branches (duplicates dropped) when every disjunct is servable, else nullopt;
// `c/any(x: ...)` -> the body planned against "c" (x) and "c/sub" (x/sub); `not`, `ne`,
// `endswith`, `all`, `any()`, `$count`, null and number literals -> not servable by themselves.
// String and GUID literals give exact ranges (but see Plan::exact); booleans serve eq only (exact);
// DateTimeOffset literals are served on their UTC second ("yyyy-mm-ddthh:mm:ss" prefix for eq,
// bounds for ranges; never exact), assuming stored dates are UTC 'Z' strings as Graph writes them.
// More than kMaxPlanBranches branches -> nullopt. Thread-safe if `indexed` is.
std::optional<Plan> PlanFilter(const Node& root,
                               const std::function<bool(std::string_view prop)>& indexed);

// A literal as the index encodes an equal stored value: strings, GUIDs and DateTimeOffsets
// ASCII lower-cased; booleans "true"/"false"; integers in decimal; decimals as ToString prints
// them; null as the empty string (null is never planned).
std::string FoldForIndex(const Value& value);

}  // namespace meridian::odata
