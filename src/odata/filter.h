// The OData v4 $filter language, in the subset Microsoft Graph supports on directory lists: a
// bounded parser from text to an AST, schema validation of that AST, and a canonical printer.
//
// Grammar (keywords and function names case-insensitive; whitespace flexible):
//
//   expr     := and_expr ('or' and_expr)*
//   and_expr := unary ('and' unary)*
//   unary    := 'not' unary | primary
//   primary  := '(' expr ')'
//             | ('startswith' | 'endswith') '(' operand ',' string ')'
//             | operand cmp literal                  cmp: eq ne gt ge lt le
//             | operand 'in' '(' literal (',' literal)* ')'
//             | path '/' ('any' | 'all') '(' [var ':' expr] ')'
//             | path '/$count' cmp integer
//   operand  := path        (outside a lambda)   |   var ['/' path]   (inside a lambda body)
//   path     := identifier ('/' identifier)*
//   literal  := 'string' ('' escapes a quote) | true | false | null | integer | decimal
//             | GUID (unquoted, 8-4-4-4-12 hex) | DateTimeOffset (unquoted, 2024-01-01T00:00:00Z)
//
// Precedence: `not` > comparison > `and` > `or`. `not` applies to the next comparison, function
// call, lambda or parenthesised expression, so `not a eq 1 and b eq 2` is
// `(not (a eq 1)) and (b eq 2)`. Inside a lambda body every operand goes through the lambda
// variable; lambdas do not nest.
//
// Limits, all enforced while parsing so that hostile input costs linear time and bounded stack:
// at most kMaxFilterLength characters, kMaxDepth levels of nesting (each parenthesised group,
// `not` and lambda body is one level), kMaxNodes nodes (each comparison, function call, `in`,
// lambda, `$count`, `not`, `and` and `or` is one) and kMaxInValues values in one `in` list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::odata {

inline constexpr size_t kMaxFilterLength = 4096;
inline constexpr int kMaxDepth = 32;
inline constexpr int kMaxNodes = 100;
inline constexpr size_t kMaxInValues = 100;

// The Graph error code of every error this module returns.
inline constexpr char kBadRequest[] = "Request_BadRequest";

enum class ValueKind {
  kNull,
  kBool,
  kInt,       // int64
  kDouble,    // a decimal literal: one with '.' or an exponent
  kString,    // a quoted literal; `text` holds the unescaped content
  kGuid,      // unquoted; `text` holds it as written
  kDateTime,  // unquoted DateTimeOffset; `text` holds it as written (validated)
};

// A typed literal of the filter.
struct Value {
  ValueKind kind = ValueKind::kNull;
  bool b = false;    // kBool
  int64_t i = 0;     // kInt
  double d = 0;      // kDouble
  std::string text;  // kString, kGuid, kDateTime

  static Value Null() { return Value{}; }
  static Value Bool(bool v) { return Value{ValueKind::kBool, v, 0, 0, {}}; }
  static Value Int(int64_t v) { return Value{ValueKind::kInt, false, v, 0, {}}; }
  static Value Double(double v) { return Value{ValueKind::kDouble, false, 0, v, {}}; }
  static Value String(std::string v) {
    return Value{ValueKind::kString, false, 0, 0, std::move(v)};
  }
  static Value Guid(std::string v) { return Value{ValueKind::kGuid, false, 0, 0, std::move(v)}; }
  static Value DateTime(std::string v) {
    return Value{ValueKind::kDateTime, false, 0, 0, std::move(v)};
  }
};

enum class CompareOp { kEq, kNe, kGt, kGe, kLt, kLe };

enum class NodeKind {
  kAnd,         // children: two or more conjuncts (nested `and`s are flattened)
  kOr,          // children: two or more disjuncts (nested `or`s are flattened)
  kNot,         // children: one
  kCompare,     // path op values[0]
  kIn,          // path in (values...), 1..kMaxInValues values
  kStartsWith,  // startswith(path, values[0]); values[0] is a kString
  kEndsWith,    // endswith(path, values[0]); values[0] is a kString
  kAny,         // path/any(variable: children[0]); no children for `any()`
  kAll,         // path/all(variable: children[0]); always one child
  kCount,       // path/$count op values[0]; values[0] is a kInt
};

// One node of a parsed filter. Owns its children. Plain data: not synchronised, but a finished
// tree may be read from many threads at once.
struct Node {
  NodeKind kind = NodeKind::kCompare;
  CompareOp op = CompareOp::kEq;  // kCompare, kCount
  // The property the node reads, segments joined by '/' ("displayName", "a/b"); for kAny, kAll
  // and kCount the collection; empty for kAnd, kOr, kNot. When `on_element` is set (operands in
  // a lambda body) the path is relative to the collection's element: empty for the element
  // itself (`x`), "sub/prop" for `x/sub/prop`.
  std::string path;
  bool on_element = false;
  std::vector<Value> values;                    // kCompare, kIn, kStartsWith, kEndsWith, kCount
  std::vector<std::unique_ptr<Node>> children;  // kAnd, kOr, kNot, kAny, kAll
  std::string variable;                         // kAny, kAll: the lambda variable as written
};

// Parses a $filter expression (already URL-decoded). Fails with kInvalidArgument (graph code
// kBadRequest) and a message starting "Invalid filter clause: " on: syntax errors (with the
// 0-based character position and the offending text), unterminated strings, malformed literals
// (bad GUID/date, integer overflow), unknown functions, unbalanced parentheses, trailing text,
// operands not rooted at the lambda variable, nested lambdas, and any of the limits above.
// Never crashes; time is linear in the input length.
Result<std::unique_ptr<Node>> ParseFilter(std::string_view text);

// The instant a DateTimeOffset literal names, in milliseconds since the Unix epoch (rounded
// down); nullopt when it is not one (see Value::DateTime).
std::optional<int64_t> DateTimeMillis(std::string_view text);

// The type of a property as the filter and the other query options see it.
enum class PropertyType {
  kString,
  kBool,
  kDateTime,
  kInt,
  kGuid,
  kStringCollection,  // filterable with any()/all() and $count
  kObjectCollection,  // any()/all() over sub-properties ("coll/sub" is looked up) and $count
  kObject,            // a complex value: selectable; its sub-properties ("obj/sub") may be filtered
};

// Looks a property path up ("displayName", "onPremisesExtensionAttributes/extensionAttribute1",
// "assignedLicenses/skuId" for an element of an object collection); nullopt when it does not exist.
using Schema = std::function<std::optional<PropertyType>(std::string_view path)>;
using SchemaFn = Schema;

// Checks a parsed filter against a schema. Fails with kInvalidArgument (graph code kBadRequest)
// when a property does not exist ("Invalid filter clause: property 'foo' does not exist"), when a
// literal does not suit the property's type (a number against a string, a string against a date),
// when null is ordered (gt/ge/lt/le null), when a bool is ordered, when a complex value or a
// collection is compared directly, when startswith/endswith reads a non-string, when
// any()/all()/$count is used on a non-collection, and when a lambda reads a sub-property of a
// string collection's element or compares an object collection's element as a whole.
Status Validate(const Node& root, const Schema& schema);

// Rewrites every property path in the tree to `canonical(path)` (for example the schema's spelling
// of a case-insensitively matched name). For an element path, `canonical` receives
// "collection/sub" and the tree keeps what follows the (already canonical) collection's prefix.
void CanonicalizePaths(Node* root, const std::function<std::string(std::string_view)>& canonical);

// Prints a tree in canonical filter syntax: lower-case keywords, minimal parentheses, strings
// re-escaped, decimals always with a '.' or exponent. ParseFilter(ToString(n)) yields a tree that
// prints identically.
std::string ToString(const Node& node);
// Prints one literal as it would appear in a filter.
std::string ToString(const Value& value);
// "eq", "ne", ...
std::string_view ToString(CompareOp op);

}  // namespace meridian::odata
