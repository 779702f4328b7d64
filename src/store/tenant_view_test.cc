#include "store/tenant_view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

#include "store/keys.h"

namespace meridian::store {
namespace {

// An in-memory ReadView over a sorted map. With `ignore_bounds` it hands a scan every key from
// `begin` on, as a buggy view would.
class MapView final : public ReadView {
 public:
  explicit MapView(std::map<std::string, std::string> kv, bool ignore_bounds = false)
      : kv_(std::move(kv)), ignore_bounds_(ignore_bounds) {}
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    ++reads;
    auto it = kv_.find(std::string(key));
    if (it == kv_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Scan(std::string_view begin, std::string_view end, bool reverse,
              const Visitor& fn) const override {
    ++reads;
    std::vector<std::pair<std::string, std::string>> in;
    for (auto it = kv_.lower_bound(std::string(begin));
         it != kv_.end() && (ignore_bounds_ || it->first < end); ++it) {
      in.emplace_back(*it);
    }
    if (reverse) std::reverse(in.begin(), in.end());
    for (const auto& [k, v] : in) {
      if (!fn(k, v)) break;
    }
    return Status::Ok();
  }
  mutable int reads = 0;

 private:
  std::map<std::string, std::string> kv_;
  bool ignore_bounds_;
};

// Two tenants whose ids are prefixes of each other ("t1", "t12") and a third ("t2").
std::map<std::string, std::string> ThreeTenants() {
  std::map<std::string, std::string> kv;
  for (const char* t : {"t1", "t12", "t2"}) {
    TenantKeys k(t);
    kv[k.Organization()] = std::string("org of ") + t;
    kv[k.Object("user", "u1")] = std::string("user of ") + t;
    kv[k.Object("user", "u2")] = std::string("user2 of ") + t;
  }
  kv["G/t/t1"] = "global";
  return kv;
}

std::vector<std::string> ScanKeys(const ReadView& v, std::string_view b, std::string_view e,
                                  bool reverse, Status* status) {
  std::vector<std::string> keys;
  *status = v.Scan(b, e, reverse, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k);
    return true;
  });
  return keys;
}

TEST(TenantView, ReadsTheTenantsOwnKeys) {
  MapView base(ThreeTenants());
  TenantView view(base, "t1");
  TenantKeys k("t1");
  auto got = view.Get(k.Object("user", "u1"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value_or(""), "user of t1");

  Status s;
  std::string p = k.ObjectPrefix("user");
  EXPECT_EQ(ScanKeys(view, p, PrefixEnd(p), false, &s),
            (std::vector<std::string>{k.Object("user", "u1"), k.Object("user", "u2")}));
  EXPECT_TRUE(s.ok()) << s.ToString();
  // The whole tenant, backwards.
  auto all = ScanKeys(view, k.prefix(), PrefixEnd(k.prefix()), true, &s);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(all, (std::vector<std::string>{k.Organization(), k.Object("user", "u2"),
                                           k.Object("user", "u1")}));
}

TEST(TenantView, GetOfAnotherTenantsKeyIsRefused) {
  MapView base(ThreeTenants());
  TenantView view(base, "t1");
  for (const std::string& key :
       {TenantKeys("t2").Object("user", "u1"), TenantKeys("t12").Object("user", "u1"),
        std::string("G/t/t1"), std::string("Tt1"), std::string("")}) {
    auto got = view.Get(key);
    ASSERT_FALSE(got.ok()) << "read " << PrintableKey(key) << " through t1's view";
    EXPECT_EQ(got.status().code(), Code::kPermissionDenied);
    EXPECT_NE(got.status().message().find("tenant isolation"), std::string::npos);
  }
  EXPECT_EQ(base.reads, 0) << "a refused read must not reach the store";
}

TEST(TenantView, ScanThatLeavesTheTenantIsRefused) {
  MapView base(ThreeTenants());
  TenantView view(base, "t1");
  std::string p = view.prefix();
  struct Range {
    std::string begin, end;
  };
  for (const Range& r : std::vector<Range>{
           {p + "o/", PrefixEnd(TenantKeys("t2").prefix())},  // starts inside, ends outside
           {p, PrefixEnd(p) + "x"},                           // ends just past the tenant
           {"T", PrefixEnd(p)},                               // starts before, ends inside
           {TenantKeys("t12").prefix(), PrefixEnd(TenantKeys("t12").prefix())},
           {"", "\xff"}}) {
    for (bool reverse : {false, true}) {
      Status s;
      auto keys = ScanKeys(view, r.begin, r.end, reverse, &s);
      EXPECT_EQ(s.code(), Code::kPermissionDenied)
          << "[" << PrintableKey(r.begin) << ", " << PrintableKey(r.end) << ")";
      EXPECT_TRUE(keys.empty());
    }
  }
  EXPECT_EQ(base.reads, 0);
}

TEST(TenantView, InvalidTenantIdRefusesEveryRead) {
  MapView base(ThreeTenants());
  // "t1/o" would make the prefix "Tt1/o/", inside tenant t1's keys.
  for (const char* id : {"", "t1/o"}) {
    TenantView view(base, id);
    auto got = view.Get(view.prefix() + "user/u1");
    EXPECT_EQ(got.status().code(), Code::kPermissionDenied) << id;
    Status s;
    ScanKeys(view, view.prefix(), PrefixEnd(view.prefix()), false, &s);
    EXPECT_EQ(s.code(), Code::kPermissionDenied) << id;
  }
  EXPECT_EQ(base.reads, 0);
}

TEST(TenantView, KeyHandedOutsideTheTenantFailsTheScan) {
  auto owned = std::make_unique<MapView>(ThreeTenants(), /*ignore_bounds=*/true);
  TenantView view(std::move(owned), "t1");
  Status s;
  auto keys = ScanKeys(view, view.prefix(), PrefixEnd(view.prefix()), false, &s);
  EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
  for (const std::string& k : keys) EXPECT_TRUE(KeyInPrefix(view.prefix(), k)) << k;
  EXPECT_EQ(keys.size(), 3u);
}

TEST(Keys, TenantRangesAndIds) {
  std::string p = TenantKeys("a").prefix();
  EXPECT_TRUE(KeyInPrefix(p, "Ta/x"));
  EXPECT_FALSE(KeyInPrefix(p, "Tab/x"));
  EXPECT_FALSE(KeyInPrefix(p, "Ta"));
  EXPECT_TRUE(RangeInPrefix(p, p, PrefixEnd(p)));
  EXPECT_TRUE(RangeInPrefix(p, "Ta/o/", "Ta/o0"));
  EXPECT_FALSE(RangeInPrefix(p, "Ta/o/", "Tb/"));
  EXPECT_FALSE(RangeInPrefix(p, "T", "Ta/o"));
  EXPECT_TRUE(ValidateTenantId("00000000-0000-4000-8000-000000000001").ok());
  EXPECT_EQ(ValidateTenantId("").code(), Code::kInvalidArgument);
  EXPECT_EQ(ValidateTenantId("a/b").code(), Code::kInvalidArgument);
  EXPECT_EQ(PrintableKey(std::string("a\0\xff\\", 4)), "a\\x00\\xff\\x5c");
}

}  // namespace
}  // namespace meridian::store
