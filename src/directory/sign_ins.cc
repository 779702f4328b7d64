#include "directory/sign_ins.h"

#include <algorithm>

namespace meridian::directory {

SignInQuery PlanSignIns(const odata::Node* filter) {
  SignInQuery q;
  q.filter = filter;
  if (!filter) return q;
  std::vector<const odata::Node*> conjuncts;
  if (filter->kind == odata::NodeKind::kAnd) {
    for (const auto& c : filter->children) conjuncts.push_back(c.get());
  } else {
    conjuncts.push_back(filter);
  }
  for (const odata::Node* n : conjuncts) {
    if (n->kind != odata::NodeKind::kCompare || n->values.size() != 1) continue;
    const odata::Value& v = n->values[0];
    if (n->op == odata::CompareOp::kEq && v.kind == odata::ValueKind::kString) {
      if (n->path == "userId") q.user_id = v.text;
      if (n->path == "appId") q.app_id = v.text;
    }
    if (n->path != "createdDateTime" || v.kind != odata::ValueKind::kDateTime) continue;
    auto ms = odata::DateTimeMillis(v.text);
    if (!ms) continue;
    switch (n->op) {
      case odata::CompareOp::kGe:
      case odata::CompareOp::kGt:
        q.from_ms = std::max(q.from_ms.value_or(*ms), *ms);
        break;
      case odata::CompareOp::kLe:
      case odata::CompareOp::kLt:
        q.until_ms = std::min(q.until_ms.value_or(*ms), *ms);
        break;
      default:
        break;
    }
  }
  return q;
}

std::optional<odata::PropertyType> SignInProperty(std::string_view path) {
  using T = odata::PropertyType;
  if (path == "createdDateTime") return T::kDateTime;
  if (path == "status/errorCode") return T::kInt;
  if (path == "isInteractive") return T::kBool;
  if (path == "id" || path == "userId" || path == "appId" || path == "userPrincipalName" ||
      path == "userDisplayName" || path == "appDisplayName" || path == "ipAddress" ||
      path == "clientAppUsed" || path == "correlationId" || path == "resourceId" ||
      path == "status/failureReason") {
    return T::kString;
  }
  if (path == "status") return T::kObject;
  return std::nullopt;
}

}  // namespace meridian::directory
