#include <gtest/gtest.h>

#include "common/clock.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/status.h"

namespace meridian {
namespace {

TEST(Base64, RoundTripsEveryLength) {
  std::string s;
  for (int i = 0; i < 64; ++i) {
    s.push_back(static_cast<char>(i * 37));
    EXPECT_EQ(*Base64UrlDecode(Base64UrlEncode(s)), s);
    EXPECT_EQ(*Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64Encode("\xfb\xff"), "+/8=");
  EXPECT_FALSE(Base64UrlDecode("ab$d").has_value());
  EXPECT_FALSE(Base64UrlDecode("abcde").has_value());
}

TEST(Random, UuidsAreVersion4AndDistinct) {
  auto r = SecureRandom::Default();
  std::string a = r->Uuid(), b = r->Uuid();
  EXPECT_TRUE(IsUuid(a));
  EXPECT_NE(a, b);
  EXPECT_EQ(a[14], '4');
  EXPECT_FALSE(IsUuid("not-a-uuid"));
}

TEST(Random, SeededIsRepeatable) {
  auto a = NewSeededRandom(7), b = NewSeededRandom(7);
  EXPECT_EQ(a->Uuid(), b->Uuid());
}

TEST(Clock, FormatsIso8601) { EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00Z"); }

TEST(Result, CarriesValueOrStatus) {
  Result<int> good(3);
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  Result<int> bad(NotFound("x"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

TEST(Encoding, BigEndianOrdersLikeIntegers) {
  std::string a, b;
  PutBigEndian64(&a, 255);
  PutBigEndian64(&b, 256);
  EXPECT_LT(a, b);
  EXPECT_EQ(GetBigEndian64(b), 256u);
}

}  // namespace
}  // namespace meridian
