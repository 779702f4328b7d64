// The sign-in log: records land with their id and time, list newest first, and a filter on user,
// application, time and status picks exactly the matching ones, page by page, inside one tenant.
#include "directory/sign_ins.h"

#include <gtest/gtest.h>

#include "directory/testing/fixture.h"
#include "odata/query.h"

namespace meridian::directory {
namespace {

namespace json = boost::json;

class SignInsTest : public testing::DirectoryFixture {
 protected:
  // Logs a sign-in of `user` (may be empty) to `app`, one second after the previous one.
  std::string Log(const std::string& user, const std::string& app, int error = 0) {
    clock_.Advance(1000);
    json::object r{{"userId", user},
                   {"appId", app},
                   {"clientAppUsed", "Browser"},
                   {"status", {{"errorCode", error}, {"failureReason", error ? "bad" : ""}}}};
    auto w = d_->RecordSignIn(Ctx(), r);
    EXPECT_TRUE(w.ok()) << w.status().ToString();
    return w.ok() ? w->object.id : "";
  }
  SecurityContext Ctx() { return testing::ContextForTest::TokenService(tenant_.tenant.id); }
  // The ids a list returns, and its skip token.
  std::pair<std::vector<std::string>, std::string> List(const std::string& filter, int top,
                                                        const std::string& skip = "") {
    std::vector<std::pair<std::string, std::string>> params;
    if (!filter.empty()) params.emplace_back("$filter", filter);
    auto options = odata::ParseQueryOptions(params, SignInProperty);
    EXPECT_TRUE(options.ok()) << options.status().ToString();
    SignInQuery q = PlanSignIns(options->filter.get());
    q.top = top;
    q.skiptoken = skip;
    q.fingerprint = filter;
    auto page = d_->ListSignIns(Ctx(), q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    for (const auto& o : page->items) ids.push_back(o.id);
    return {ids, page->next_skiptoken};
  }
};

TEST_F(SignInsTest, AListIsNewestFirstAndEachFilterPicksItsRecords) {
  std::string u1 = "aaaaaaaa-0000-4000-8000-000000000001",
              u2 = "aaaaaaaa-0000-4000-8000-000000000002";
  std::string a1 = "bbbbbbbb-0000-4000-8000-000000000001",
              a2 = "bbbbbbbb-0000-4000-8000-000000000002";
  int64_t start = clock_.NowMillis();
  std::vector<std::string> ids = {Log(u1, a1), Log(u2, a1), Log(u1, a2, 50126), Log("", a2),
                                  Log(u2, a2, 50053)};
  auto [all, none] = List("", 10);
  EXPECT_EQ(all, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));
  EXPECT_EQ(none, "");
  EXPECT_EQ(List("userId eq '" + u1 + "'", 10).first, (std::vector<std::string>{ids[2], ids[0]}));
  EXPECT_EQ(List("appId eq '" + a2 + "'", 10).first,
            (std::vector<std::string>{ids[4], ids[3], ids[2]}));
  EXPECT_EQ(List("status/errorCode ne 0", 10).first, (std::vector<std::string>{ids[4], ids[2]}));
  // Records at start+2 s .. start+4 s.
  std::string from = FormatIso8601(start + 2000), until = FormatIso8601(start + 4000);
  EXPECT_EQ(List("createdDateTime ge " + from + " and createdDateTime le " + until, 10).first,
            (std::vector<std::string>{ids[3], ids[2], ids[1]}));
  EXPECT_EQ(List("createdDateTime gt " + from + " and appId eq '" + a2 +
                     "' and "
                     "status/errorCode eq 0",
                 10)
                .first,
            (std::vector<std::string>{ids[3]}));
  // The record as logged.
  auto page = d_->ListSignIns(Ctx(), PlanSignIns(nullptr));
  ASSERT_TRUE(page.ok());
  const json::object& newest = page->items[0].data;
  EXPECT_EQ(newest.at("id").as_string(), ids[4]);
  EXPECT_EQ(newest.at("createdDateTime").as_string(), FormatIso8601(start + 5000));
  EXPECT_EQ(newest.at("status").at("errorCode").as_int64(), 50053);
}

TEST_F(SignInsTest, PagesFollowEachOtherWithoutGapOrRepeat) {
  std::string user = "aaaaaaaa-0000-4000-8000-000000000003";
  std::vector<std::string> logged;
  for (int i = 0; i < 7; ++i) logged.insert(logged.begin(), Log(i % 2 ? user : "", "app"));
  std::vector<std::string> seen;
  std::string skip;
  std::string filter = "appId eq 'app'";
  do {
    auto [ids, next] = List(filter, 3, skip);
    EXPECT_LE(ids.size(), 3u);
    seen.insert(seen.end(), ids.begin(), ids.end());
    skip = next;
  } while (!skip.empty());
  EXPECT_EQ(seen, logged);
  // A skip token works only with the filter it was made for.
  auto [first, token] = List(filter, 3);
  ASSERT_FALSE(token.empty());
  auto options =
      odata::ParseQueryOptions({{"$filter", "userId eq '" + user + "'"}}, SignInProperty);
  SignInQuery q = PlanSignIns(options->filter.get());
  q.skiptoken = token;
  q.fingerprint = "userId eq '" + user + "'";
  EXPECT_EQ(d_->ListSignIns(Ctx(), q).status().code(), Code::kInvalidArgument);
}

TEST_F(SignInsTest, AnotherTenantsLogIsNotVisible) {
  Log("aaaaaaaa-0000-4000-8000-000000000004", "app");
  auto other = d_->CreateTenant("Fabrikam", "DE");
  ASSERT_TRUE(other.ok());
  auto page = d_->ListSignIns(testing::ContextForTest::TokenService(other->tenant.id),
                              PlanSignIns(nullptr));
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->items.empty());
}

TEST(SignInPlanTest, TheFilterNamesTheIndexAndTheBoundsButStaysWhole) {
  auto options = odata::ParseQueryOptions(
      {{"$filter",
        "appId eq 'x' and createdDateTime lt 2026-01-02T00:00:00Z and "
        "createdDateTime ge 2026-01-01T00:00:00Z and status/errorCode eq 0"}},
      SignInProperty);
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  SignInQuery q = PlanSignIns(options->filter.get());
  EXPECT_EQ(q.app_id, "x");
  EXPECT_EQ(q.user_id, "");
  EXPECT_EQ(q.from_ms, 1767225600000);
  EXPECT_EQ(q.until_ms, 1767312000000);
  EXPECT_EQ(q.filter, options->filter.get());
  // An `or` names no index: everything is scanned and filtered.
  auto either =
      odata::ParseQueryOptions({{"$filter", "appId eq 'x' or userId eq 'y'"}}, SignInProperty);
  ASSERT_TRUE(either.ok());
  SignInQuery all = PlanSignIns(either->filter.get());
  EXPECT_EQ(all.app_id + all.user_id, "");
  // Unknown properties are refused.
  EXPECT_FALSE(odata::ParseQueryOptions({{"$filter", "password eq 'x'"}}, SignInProperty).ok());
}

}  // namespace
}  // namespace meridian::directory
