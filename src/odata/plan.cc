#include "odata/plan.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "common/encoding.h"
#include "odata/internal/literals.h"

namespace meridian::odata {
namespace {

using IndexedFn = std::function<bool(std::string_view)>;

bool IsOrdering(CompareOp op) { return op != CompareOp::kEq && op != CompareOp::kNe; }

// The store indexes a missing or null single value as one 0 byte, and an unbounded-below
// interval starts after it; a range whose lower bound or prefix is "" or starts with a 0 byte may
// still hold those entries, which no comparison matches.
bool MayHoldNull(const Range& r) {
  auto low_reaches_null = [&] { return r.low.empty() || r.low[0] == '\0'; };
  switch (r.kind) {
    case Range::Kind::kEq:
      return !r.low.empty() && r.low[0] == '\0';
    case Range::Kind::kPrefix:
      return low_reaches_null();
    case Range::Kind::kInterval:
      return r.has_low && low_reaches_null();
  }
  return true;
}

Plan Single(Range r, bool exact) {
  Plan p;
  p.exact = exact && !MayHoldNull(r);
  p.branches.push_back(std::move(r));
  return p;
}

Range Interval(std::string prop, CompareOp op, std::string bound, bool inclusive) {
  Range r;
  r.prop = std::move(prop);
  r.kind = Range::Kind::kInterval;
  if (op == CompareOp::kGt || op == CompareOp::kGe) {
    r.has_low = true;
    r.low = std::move(bound);
    r.low_inclusive = inclusive;
  } else {
    r.has_high = true;
    r.high = std::move(bound);
    r.high_inclusive = inclusive;
  }
  return r;
}

int KindRank(const Plan& p) {
  int rank = 0;
  for (const Range& r : p.branches) rank = std::max(rank, static_cast<int>(r.kind));
  return rank;
}

// Narrows `into` by the bounds of `r` (both intervals on one property).
void Intersect(Range* into, const Range& r) {
  if (r.has_low) {
    int c = into->has_low ? r.low.compare(into->low) : 1;
    if (c > 0 || (c == 0 && !r.low_inclusive)) {
      into->has_low = true;
      into->low = r.low;
      into->low_inclusive = r.low_inclusive;
    }
  }
  if (r.has_high) {
    int c = into->has_high ? r.high.compare(into->high) : -1;
    if (c < 0 || (c == 0 && !r.high_inclusive)) {
      into->has_high = true;
      into->high = r.high;
      into->high_inclusive = r.high_inclusive;
    }
  }
}

class Planner {
 public:
  explicit Planner(const IndexedFn& indexed) : indexed_(indexed) {}

  // `collection` is the path of the enclosing lambda's collection, or nullptr.
  std::optional<Plan> PlanNode(const Node& n, const std::string* collection) const {
    switch (n.kind) {
      case NodeKind::kCompare:
        if (n.values.size() != 1) return std::nullopt;
        return PlanCompare(PropOf(n, collection), n.op, n.values[0]);
      case NodeKind::kIn:
        return PlanIn(n, collection);
      case NodeKind::kStartsWith: {
        std::string prop = PropOf(n, collection);
        if (n.values.size() != 1 || n.values[0].kind != ValueKind::kString || !Indexed(prop)) {
          return std::nullopt;
        }
        Range r;
        r.prop = std::move(prop);
        r.kind = Range::Kind::kPrefix;
        r.low = FoldForIndex(n.values[0]);
        return Single(std::move(r), true);
      }
      case NodeKind::kAnd:
        return PlanAnd(n, collection);
      case NodeKind::kOr:
        return PlanOr(n, collection);
      case NodeKind::kAny:
        if (collection || n.on_element || n.children.size() != 1) return std::nullopt;
        return PlanNode(*n.children[0], &n.path);
      case NodeKind::kNot:
      case NodeKind::kEndsWith:
      case NodeKind::kAll:
      case NodeKind::kCount:
        return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  bool Indexed(const std::string& prop) const { return !prop.empty() && indexed_(prop); }

  static std::string PropOf(const Node& n, const std::string* collection) {
    if (!n.on_element) return n.path;
    if (!collection) return {};
    return n.path.empty() ? *collection : *collection + "/" + n.path;
  }

  std::optional<Plan> PlanCompare(std::string prop, CompareOp op, const Value& v) const {
    if (op == CompareOp::kNe || !Indexed(prop)) return std::nullopt;
    switch (v.kind) {
      case ValueKind::kString:
      case ValueKind::kGuid: {
        std::string folded = FoldForIndex(v);
        if (op == CompareOp::kEq) {
          Range r;
          r.prop = std::move(prop);
          r.low = std::move(folded);
          return Single(std::move(r), true);
        }
        bool inclusive = op == CompareOp::kGe || op == CompareOp::kLe;
        return Single(Interval(std::move(prop), op, std::move(folded), inclusive), true);
      }
      case ValueKind::kBool: {
        if (op != CompareOp::kEq) return std::nullopt;
        Range r;
        r.prop = std::move(prop);
        r.low = v.b ? "true" : "false";
        return Single(std::move(r), true);
      }
      case ValueKind::kDateTime: {
        auto t = internal::ParseDateTime(v.text);
        if (!t) return std::nullopt;
        std::optional<std::string> second = internal::FoldedUtcSecond(*t);
        if (!second) return std::nullopt;
        // A stored "yyyy-mm-ddthh:mm:ss[.fff]z" equal to the literal starts with the literal's
        // UTC second; one above it sorts at or after that second; one below it sorts at or
        // before that second followed by '~', which tops every character a date can hold.
        if (op == CompareOp::kEq) {
          Range r;
          r.prop = std::move(prop);
          r.kind = Range::Kind::kPrefix;
          r.low = std::move(*second);
          return Single(std::move(r), false);
        }
        if (op == CompareOp::kLt || op == CompareOp::kLe) second->push_back('~');
        return Single(Interval(std::move(prop), op, std::move(*second), true), false);
      }
      case ValueKind::kNull:
      case ValueKind::kInt:
      case ValueKind::kDouble:
        return std::nullopt;
    }
    return std::nullopt;
  }

  std::optional<Plan> PlanIn(const Node& n, const std::string* collection) const {
    std::string prop = PropOf(n, collection);
    Plan plan;
    plan.exact = true;
    for (const Value& v : n.values) {
      std::optional<Plan> one = PlanCompare(prop, CompareOp::kEq, v);
      if (!one) return std::nullopt;
      plan.exact = plan.exact && one->exact;
      for (Range& r : one->branches) plan.branches.push_back(std::move(r));
    }
    if (plan.branches.empty()) return std::nullopt;
    std::sort(plan.branches.begin(), plan.branches.end(), [](const Range& a, const Range& b) {
      return std::tie(a.low, a.kind) < std::tie(b.low, b.kind);
    });
    plan.branches.erase(std::unique(plan.branches.begin(), plan.branches.end()),
                        plan.branches.end());
    return plan;
  }

  std::optional<Plan> PlanAnd(const Node& n, const std::string* collection) const {
    struct Candidate {
      Plan plan;
      size_t covers;
    };
    std::vector<Candidate> candidates;
    // Ordering comparisons on one property merge into one interval. Only direct comparisons
    // merge: two any() over one collection may be satisfied by different elements.
    std::map<std::string, Candidate> merged;
    for (const auto& c : n.children) {
      std::optional<Plan> p = PlanNode(*c, collection);
      if (!p) continue;
      if (c->kind == NodeKind::kCompare && IsOrdering(c->op) && p->branches.size() == 1 &&
          p->branches[0].kind == Range::Kind::kInterval) {
        const Range& r = p->branches[0];
        auto it = merged.find(r.prop);
        if (it == merged.end()) {
          merged.emplace(r.prop, Candidate{*p, 1});
        } else {
          Intersect(&it->second.plan.branches[0], r);
          it->second.plan.exact = it->second.plan.exact && p->exact;
          ++it->second.covers;
        }
      }
      candidates.push_back({std::move(*p), 1});
    }
    for (auto& [prop, m] : merged) {
      if (m.covers > 1) candidates.push_back(std::move(m));
    }
    if (candidates.empty()) return std::nullopt;
    auto key = [](const Candidate& c) {
      return std::make_tuple(KindRank(c.plan), c.plan.branches.size(), !c.plan.exact,
                             -static_cast<int64_t>(c.covers));
    };
    size_t best = 0;
    for (size_t k = 1; k < candidates.size(); ++k) {
      if (key(candidates[k]) < key(candidates[best])) best = k;
    }
    Plan plan = std::move(candidates[best].plan);
    plan.exact = plan.exact && candidates[best].covers == n.children.size();
    return plan;
  }

  std::optional<Plan> PlanOr(const Node& n, const std::string* collection) const {
    Plan plan;
    plan.exact = true;
    for (const auto& c : n.children) {
      std::optional<Plan> p = PlanNode(*c, collection);
      if (!p) return std::nullopt;
      plan.exact = plan.exact && p->exact;
      for (Range& r : p->branches) {
        if (std::find(plan.branches.begin(), plan.branches.end(), r) == plan.branches.end()) {
          plan.branches.push_back(std::move(r));
        }
      }
      if (plan.branches.size() > kMaxPlanBranches) return std::nullopt;
    }
    if (plan.branches.empty()) return std::nullopt;
    return plan;
  }

  const IndexedFn& indexed_;
};

}  // namespace

std::optional<Plan> PlanFilter(const Node& root, const IndexedFn& indexed) {
  std::optional<Plan> plan = Planner(indexed).PlanNode(root, nullptr);
  if (plan && (plan->branches.empty() || plan->branches.size() > kMaxPlanBranches)) {
    return std::nullopt;
  }
  return plan;
}

std::string FoldForIndex(const Value& v) {
  switch (v.kind) {
    case ValueKind::kString:
    case ValueKind::kGuid:
    case ValueKind::kDateTime:
      return AsciiLower(v.text);
    case ValueKind::kBool:
      return v.b ? "true" : "false";
    case ValueKind::kInt:
    case ValueKind::kDouble:
      return ToString(v);
    case ValueKind::kNull:
      return {};
  }
  return {};
}

}  // namespace meridian::odata
