// TOTP against RFC 6238's test vectors and RFC 4648's base32 vectors; a code works once, only
// near its time; the enrolment URI; recovery codes.
#include "crypto/totp.h"

#include <gtest/gtest.h>

#include <set>

namespace meridian::crypto {
namespace {

TEST(TotpTest, Rfc6238Vectors) {
  // Appendix B, SHA-1, secret "12345678901234567890", eight digits.
  const std::string secret = "12345678901234567890";
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& [t, code] : vectors) {
    EXPECT_EQ(TotpCode(secret, t / kTotpStepSeconds, 8), code) << t;
    EXPECT_EQ(TotpCode(secret, t / kTotpStepSeconds), std::string(code).substr(2)) << t;
  }
}

TEST(TotpTest, Base32Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "MY"},           {"fo", "MZXQ"},      {"foo", "MZXW6"},
      {"foob", "MZXW6YQ"}, {"fooba", "MZXW6YTB"}, {"foobar", "MZXW6YTBOI"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base32Encode(plain), encoded);
    EXPECT_EQ(Base32Decode(encoded), plain);
  }
  EXPECT_EQ(Base32Decode("mzxw6ytboi======"), "foobar");
  EXPECT_EQ(Base32Decode("MZXW1"), std::nullopt);  // '1' is not in the alphabet
}

TEST(TotpTest, ACodeWorksOnceAndOnlyNearItsTime) {
  const std::string secret = "12345678901234567890";
  int64_t now_ms = 1'700'000'000'000;
  int64_t step = now_ms / 1000 / kTotpStepSeconds;
  std::string code = TotpCode(secret, step);
  EXPECT_EQ(VerifyTotp(secret, code, now_ms, 0), step);
  EXPECT_EQ(VerifyTotp(secret, code, now_ms, step), std::nullopt) << "used already";
  // The previous and next steps are accepted (clock drift), not two away.
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, step - 1), now_ms, 0), step - 1);
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, step + 1), now_ms, 0), step + 1);
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, step - 2), now_ms, 0), std::nullopt);
  // A code older than the last one used is refused even within the window.
  EXPECT_EQ(VerifyTotp(secret, TotpCode(secret, step - 1), now_ms, step), std::nullopt);
  EXPECT_EQ(VerifyTotp(secret, "12345", now_ms, 0), std::nullopt);
  EXPECT_EQ(VerifyTotp("another secret", code, now_ms, 0), std::nullopt);
}

TEST(TotpTest, TheUriNamesIssuerAccountAndSecret) {
  EXPECT_EQ(TotpUri("Meridian (Contoso)", "adele@contoso.test", "foobar"),
            "otpauth://totp/Meridian%20%28Contoso%29:adele%40contoso.test?secret=MZXW6YTBOI"
            "&issuer=Meridian%20%28Contoso%29&algorithm=SHA1&digits=6&period=30");
}

TEST(TotpTest, RecoveryCodesAreDistinctAndHashedCaseBlind) {
  auto random = NewSeededRandom(3);
  auto codes = NewRecoveryCodes(*random);
  ASSERT_EQ(codes.size(), 10u);
  std::set<std::string> distinct(codes.begin(), codes.end());
  EXPECT_EQ(distinct.size(), 10u);
  for (const auto& c : codes) {
    EXPECT_EQ(c.size(), 19u);
    EXPECT_EQ(c[4], '-');
  }
  std::string lower = codes[0];
  for (char& c : lower) c = static_cast<char>(tolower(c));
  EXPECT_EQ(RecoveryCodeHash(codes[0]), RecoveryCodeHash(lower));
  EXPECT_NE(RecoveryCodeHash(codes[0]), RecoveryCodeHash(codes[1]));
}

}  // namespace
}  // namespace meridian::crypto
