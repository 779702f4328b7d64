// Evaluation of a parsed $filter against one Graph JSON object: the residual check the store
// applies to every candidate an index scan (or a full scan) produces.
#pragma once

#include <boost/json/object.hpp>

#include "odata/filter.h"

namespace meridian::odata {

// True when `obj` satisfies the filter `root` (a tree from ParseFilter; Validate it first to get
// OData's type rules, though an unvalidated tree is evaluated safely too). Never fails:
//  - Property paths walk nested objects ("a/b" reads obj["a"]["b"]); a name is matched exactly,
//    else case-insensitively. A missing property, or a path through a non-object, reads as null.
//  - `eq null` is true for null or missing, `ne null` for anything else, ordering against null
//    is false. A null or missing value against a non-null literal: `ne` true, all else false.
//  - Strings, GUIDs: compared after ASCII lower-casing (eq, ne, ordering, in, startswith,
//    endswith), bytewise: the order of the index.
//  - DateTimeOffset literals: compared as instants with JSON strings that parse as ISO 8601
//    (offsets and fractions honoured); a string that does not parse is unequal and unordered.
//  - Numbers numerically (int64 exactly, otherwise as double); booleans false < true.
//  - Values of different types are unequal and unordered: `eq` false, `ne` true, ordering false.
//  - c/any(x: body): true when some element of the array c satisfies body; c/any(): c is a
//    non-empty array. c/all(x: body): every element does (true for missing or empty c).
//  - c/$count: the array's length (0 when missing or not an array).
// Thread-safe: reads only. Cost is linear in the size of the tree times the size of the values
// it reads.
bool Matches(const Node& root, const boost::json::object& obj);

}  // namespace meridian::odata
