#include "odata/eval.h"

#include <boost/json/value.hpp>
#include <cstdint>
#include <limits>
#include <optional>

#include "common/encoding.h"
#include "odata/internal/literals.h"

namespace meridian::odata {
namespace {

namespace json = boost::json;

const json::value* Member(const json::object& obj, std::string_view name) {
  if (const json::value* v = obj.if_contains(name)) return v;
  for (const auto& kv : obj) {
    if (EqualsIgnoreCase(kv.key(), name)) return &kv.value();
  }
  return nullptr;
}

// The value at `path` under `v`; nullptr when missing. An empty path is `v` itself.
const json::value* Lookup(const json::value* v, std::string_view path) {
  while (!path.empty()) {
    if (!v || !v->is_object()) return nullptr;
    size_t slash = path.find('/');
    v = Member(v->get_object(), path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1);
  }
  return v;
}

template <typename T>
int Sign(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

// Three-way order of a JSON value against a literal; nullopt when they are not comparable.
std::optional<int> Order(const json::value& v, const Value& lit) {
  switch (lit.kind) {
    case ValueKind::kString:
    case ValueKind::kGuid:
      if (!v.is_string()) return std::nullopt;
      return internal::CompareFolded(v.get_string(), lit.text);
    case ValueKind::kDateTime: {
      if (!v.is_string()) return std::nullopt;
      auto a = internal::ParseDateTime(v.get_string());
      auto b = internal::ParseDateTime(lit.text);
      if (!a || !b) return std::nullopt;
      return Sign(*a, *b);
    }
    case ValueKind::kBool:
      if (!v.is_bool()) return std::nullopt;
      return Sign(v.get_bool(), lit.b);
    case ValueKind::kInt:
      if (v.is_int64()) return Sign(v.get_int64(), lit.i);
      if (v.is_uint64()) {
        if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return 1;
        return Sign(static_cast<int64_t>(v.get_uint64()), lit.i);
      }
      if (v.is_double()) return Sign(v.get_double(), static_cast<double>(lit.i));
      return std::nullopt;
    case ValueKind::kDouble:
      if (v.is_int64()) return Sign(static_cast<double>(v.get_int64()), lit.d);
      if (v.is_uint64()) return Sign(static_cast<double>(v.get_uint64()), lit.d);
      if (v.is_double()) return Sign(v.get_double(), lit.d);
      return std::nullopt;
    case ValueKind::kNull:
      return std::nullopt;
  }
  return std::nullopt;
}

bool Compare(const json::value* v, CompareOp op, const Value& lit) {
  bool is_null = !v || v->is_null();
  if (lit.kind == ValueKind::kNull) {
    if (op == CompareOp::kEq) return is_null;
    if (op == CompareOp::kNe) return !is_null;
    return false;
  }
  std::optional<int> c = is_null ? std::nullopt : Order(*v, lit);
  if (!c) return op == CompareOp::kNe;
  switch (op) {
    case CompareOp::kEq:
      return *c == 0;
    case CompareOp::kNe:
      return *c != 0;
    case CompareOp::kGt:
      return *c > 0;
    case CompareOp::kGe:
      return *c >= 0;
    case CompareOp::kLt:
      return *c < 0;
    case CompareOp::kLe:
      return *c <= 0;
  }
  return false;
}

class Evaluator {
 public:
  explicit Evaluator(const json::object& obj) : root_(obj) {}

  // `element` is the current lambda element, or nullptr outside a lambda.
  bool Eval(const Node& n, const json::value* element) const {
    switch (n.kind) {
      case NodeKind::kAnd:
        for (const auto& c : n.children) {
          if (!Eval(*c, element)) return false;
        }
        return true;
      case NodeKind::kOr:
        for (const auto& c : n.children) {
          if (Eval(*c, element)) return true;
        }
        return false;
      case NodeKind::kNot:
        return n.children.size() == 1 && !Eval(*n.children[0], element);
      case NodeKind::kCompare:
        return n.values.size() == 1 && Compare(Read(n, element), n.op, n.values[0]);
      case NodeKind::kIn: {
        const json::value* v = Read(n, element);
        for (const Value& lit : n.values) {
          if (Compare(v, CompareOp::kEq, lit)) return true;
        }
        return false;
      }
      case NodeKind::kStartsWith:
      case NodeKind::kEndsWith: {
        const json::value* v = Read(n, element);
        if (!v || !v->is_string() || n.values.size() != 1 ||
            n.values[0].kind != ValueKind::kString) {
          return false;
        }
        return n.kind == NodeKind::kStartsWith
                   ? internal::StartsWithFolded(v->get_string(), n.values[0].text)
                   : internal::EndsWithFolded(v->get_string(), n.values[0].text);
      }
      case NodeKind::kAny:
      case NodeKind::kAll: {
        const json::value* v = Read(n, element);
        bool any = n.kind == NodeKind::kAny;
        if (!v || !v->is_array()) return !any;
        const json::array& items = v->get_array();
        if (n.children.empty()) return any ? !items.empty() : true;
        for (const json::value& item : items) {
          if (Eval(*n.children[0], &item) == any) return any;
        }
        return !any;
      }
      case NodeKind::kCount: {
        const json::value* v = Read(n, element);
        int64_t size = v && v->is_array() ? static_cast<int64_t>(v->get_array().size()) : 0;
        json::value count(size);
        return n.values.size() == 1 && Compare(&count, n.op, n.values[0]);
      }
    }
    return false;
  }

 private:
  const json::value* Read(const Node& n, const json::value* element) const {
    if (n.on_element) return element ? Lookup(element, n.path) : nullptr;
    std::string_view path = n.path;
    size_t slash = path.find('/');
    const json::value* first = Member(root_, path.substr(0, slash));
    if (slash == std::string_view::npos) return first;
    return Lookup(first, path.substr(slash + 1));
  }

  const json::object& root_;
};

}  // namespace

bool Matches(const Node& root, const json::object& obj) {
  return Evaluator(obj).Eval(root, nullptr);
}

}  // namespace meridian::odata
