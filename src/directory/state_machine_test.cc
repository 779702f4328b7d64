#include "directory/state_machine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "directory/records.h"
#include "store/keys.h"

namespace meridian::directory {
namespace {
namespace json = boost::json;

// An in-memory WriteContext that records what an apply does.
class RecordingContext final : public store::WriteContext {
 public:
  Result<std::optional<std::string>> Get(std::string_view key) const override {
    auto it = kv.find(std::string(key));
    if (it == kv.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status Scan(std::string_view begin, std::string_view end, bool reverse,
              const Visitor& fn) const override {
    for (auto it = kv.lower_bound(std::string(begin)); it != kv.end() && it->first < end; ++it) {
      if (!fn(it->first, it->second)) break;
    }
    return Status::Ok();
  }
  void Put(std::string_view key, std::string_view value) override {
    kv[std::string(key)] = std::string(value);
  }
  void Delete(std::string_view key) override {
    ++deletes;
    kv.erase(std::string(key));
  }
  std::map<std::string, std::string, std::less<>> kv;
  int deletes = 0;
};

proto::Op PutUser(uint64_t lsn, const std::string& id, json::object data, bool create) {
  proto::Op op;
  op.set_lsn(lsn);
  op.set_tenant_id("t1");
  data["id"] = id;
  auto* p = op.mutable_put_object();
  p->set_type("user");
  p->set_id(id);
  p->set_create(create);
  p->set_record_json(json::serialize(json::object{{"d", data}, {"s", json::object{}}}));
  return op;
}

// Regression: creating an object used to delete the null index entries it never had, leaving
// tombstones that every later index scan had to skip (list throughput fell twentyfold).
TEST(TenantMachine, CreatingAnObjectDeletesNothing) {
  RecordingContext ctx;
  TenantMachine m;
  std::string id = "00000000-0000-4000-8000-000000000001";
  ASSERT_TRUE(m.Apply(PutUser(1, id, {{"userPrincipalName", "a@x"}, {"displayName", "A"}}, true),
                      &ctx)
                  .ok());
  EXPECT_EQ(ctx.deletes, 0);
  store::TenantKeys keys("t1");
  // Missing single values are indexed as null; present ones by value.
  EXPECT_TRUE(ctx.kv.count(keys.Index("user", "jobTitle", std::string(1, '\0'), id)));
  EXPECT_TRUE(ctx.kv.count(keys.Index("user", "displayName", "a", id)));
  // Setting a value replaces its null entry.
  ASSERT_TRUE(m.Apply(PutUser(2, id, {{"userPrincipalName", "a@x"}, {"displayName", "A"},
                                      {"jobTitle", "Dev"}}, false),
                      &ctx)
                  .ok());
  EXPECT_FALSE(ctx.kv.count(keys.Index("user", "jobTitle", std::string(1, '\0'), id)));
  EXPECT_TRUE(ctx.kv.count(keys.Index("user", "jobTitle", "dev", id)));
}

TEST(TenantMachine, UniqueValuesAreEnforcedAtApply) {
  RecordingContext ctx;
  TenantMachine m;
  ASSERT_TRUE(m.Apply(PutUser(1, "00000000-0000-4000-8000-000000000001",
                              {{"userPrincipalName", "a@x"}}, true),
                      &ctx)
                  .ok());
  Status dup = m.Apply(PutUser(2, "00000000-0000-4000-8000-000000000002",
                               {{"userPrincipalName", "A@X"}}, true),
                       &ctx);
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
}

// An update is logged as what changed, and applying it gives the same record as the whole.
TEST(TenantMachine, AnUpdateIsLoggedAsItsPatch) {
  RecordingContext ctx;
  TenantMachine m;
  std::string id = "00000000-0000-4000-8000-000000000002";
  std::string bio(10000, 'x');
  json::object data{{"userPrincipalName", "a@x"}, {"displayName", "A"}, {"aboutMe", bio}};
  ASSERT_TRUE(m.Apply(PutUser(1, id, data, true), &ctx).ok());

  Object before{"user", id, 1, data, {{"passwordHash", "h1"}}};
  before.data["id"] = id;
  Object after = before;
  after.data["displayName"] = "B";
  after.data.erase("aboutMe");
  after.secret["passwordHash"] = "h2";
  json::object patch = MakePatch(before, after);
  std::string patch_json = json::serialize(patch);
  EXPECT_LT(patch_json.size(), 100u) << patch_json;
  EXPECT_EQ(patch_json.find(bio), std::string::npos);

  proto::Op op;
  op.set_lsn(2);
  op.set_tenant_id("t1");
  auto* p = op.mutable_put_object();
  p->set_type("user");
  p->set_id(id);
  p->set_patch_json(patch_json);
  ASSERT_TRUE(m.Apply(op, &ctx).ok());
  auto stored = DecodeObject("user", ctx.kv.at(store::TenantKeys("t1").Object("user", id)));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->data.at("displayName").as_string(), "B");
  EXPECT_FALSE(stored->data.contains("aboutMe"));
  EXPECT_EQ(stored->data.at("userPrincipalName").as_string(), "a@x");
  EXPECT_EQ(stored->secret.at("passwordHash").as_string(), "h2");
  EXPECT_EQ(stored->version, 2u);
}

}  // namespace
}  // namespace meridian::directory
