// The sign-in log: every attempt to sign in (a user's or a client's; success, or failure and
// why), kept in the tenant's partition as Graph's signIn resource and listed newest first at
// /v1.0/auditLogs/signIns. Records are indexed by time, by user and by application; a list scans
// the index its filter names and checks the whole filter on each record, a bounded number per
// page.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "odata/filter.h"

namespace meridian::directory {

// A page of the log: what a list request asks.
struct SignInQuery {
  const odata::Node* filter = nullptr;  // checked on every record; null: all
  // From the conjuncts of the filter's top level: the index to scan and its time bounds.
  std::string user_id, app_id;
  std::optional<int64_t> from_ms, until_ms;  // createdDateTime in [from, until]
  int top = 50;
  std::string skiptoken;
  std::string fingerprint;  // the filter as sent: a skip token works only with the same one
};

// The index and bounds `filter` allows (its top-level `userId eq`, `appId eq` and
// `createdDateTime` ge/gt/le/lt clauses); the filter itself stays to be checked.
SignInQuery PlanSignIns(const odata::Node* filter);

// The properties of signIn that $filter may name.
std::optional<odata::PropertyType> SignInProperty(std::string_view path);

// Records examined for one page at most: a filter no index serves ends a page early (with a skip
// token to go on) rather than scan the whole log.
inline constexpr int kSignInScanBudget = 5000;

}  // namespace meridian::directory
