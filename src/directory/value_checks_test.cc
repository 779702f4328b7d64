#include "directory/value_checks.h"

#include <gtest/gtest.h>

#include <string>

namespace meridian::directory {
namespace {

TEST(ValueChecksTest, Guid) {
  EXPECT_TRUE(CheckGuid("p", "00000003-0000-0000-C000-000000000000").ok());
  EXPECT_FALSE(CheckGuid("p", "00000003-0000-0000-c000-00000000000").ok());
  EXPECT_FALSE(CheckGuid("p", "{00000003-0000-0000-c000-000000000000}").ok());
}

TEST(ValueChecksTest, EmailAddressNamesThePropertyAndKeepsToTheBounds) {
  Status st = CheckEmailAddress("otherMails", "nope");
  EXPECT_EQ(st.graph_code(), "Request_BadRequest");
  EXPECT_NE(st.message().find("'otherMails'"), std::string::npos) << st.message();
  std::string label(63, 'd');
  std::string local(64, 'a');
  std::string at_limit = local + "@" + label + "." + label + "." + std::string(61, 'd');
  ASSERT_EQ(at_limit.size(), 254u);
  EXPECT_TRUE(CheckEmailAddress("mail", at_limit).ok());
  EXPECT_FALSE(
      CheckEmailAddress("mail", local + "@" + label + "." + label + "." + std::string(62, 'd'))
          .ok())
      << "255 characters";
  EXPECT_FALSE(CheckEmailAddress("mail", "a@" + std::string(64, 'd') + ".com").ok())
      << "a label of 64 characters";
  EXPECT_FALSE(CheckEmailAddress("mail", "caf\xc3\xa9@contoso.com").ok()) << "ASCII only";
  EXPECT_FALSE(CheckEmailAddress("mail", "a@con_toso.com").ok());
  EXPECT_FALSE(CheckEmailAddress("mail", "a@contoso.com@evil.example").ok());
}

TEST(ValueChecksTest, MailNicknameRefusesEachDocumentedCharacter) {
  for (char c : std::string("@()\\[]\";:<>, \t")) {
    SCOPED_TRACE(std::string(1, c));
    EXPECT_FALSE(CheckMailNickname("mailNickname", std::string("a") + c + "b").ok());
  }
  EXPECT_TRUE(CheckMailNickname("mailNickname", "a.b-c_d'e!f#g$h%i&j*k+l/m=n?o^p`q{r|s}t~u").ok());
  EXPECT_TRUE(CheckMailNickname("mailNickname", std::string(64, 'n')).ok());
  EXPECT_FALSE(CheckMailNickname("mailNickname", std::string(65, 'n')).ok());
  EXPECT_FALSE(CheckMailNickname("mailNickname", "").ok());
}

TEST(ValueChecksTest, CountryCode) {
  EXPECT_TRUE(CheckCountryCode("usageLocation", "JP").ok());
  EXPECT_FALSE(CheckCountryCode("usageLocation", "J").ok());
  EXPECT_FALSE(CheckCountryCode("usageLocation", "XX").ok());
}

TEST(ValueChecksTest, RedirectUris) {
  EXPECT_TRUE(CheckRedirectUri("r", "https://a.example/cb?x=1").ok());
  EXPECT_TRUE(CheckRedirectUri("r", "http://127.0.0.1:8400/").ok());
  EXPECT_TRUE(CheckRedirectUri("r", "http://[::1]/").ok());
  EXPECT_FALSE(CheckRedirectUri("r", "https://a.example/cb#frag").ok());
  EXPECT_FALSE(CheckRedirectUri("r", "/relative/cb").ok());
  std::string path(256 - std::string("https://a.example/").size(), 'p');
  EXPECT_TRUE(CheckRedirectUri("r", "https://a.example/" + path).ok());
  EXPECT_FALSE(CheckRedirectUri("r", "https://a.example/p" + path).ok()) << "257 characters";
  EXPECT_FALSE(CheckRedirectUri("r", "http://localhost.evil.example/").ok());
  EXPECT_FALSE(CheckRedirectUri("r", "com.contoso.app://auth").ok());
  EXPECT_TRUE(CheckPublicClientRedirectUri("r", "com.contoso.app://auth").ok());
  EXPECT_FALSE(CheckPublicClientRedirectUri("r", "data:text/html,x").ok());
  EXPECT_FALSE(CheckPublicClientRedirectUri("r", "http://a.example/").ok());
}

TEST(ValueChecksTest, Base64TakesEitherAlphabet) {
  EXPECT_TRUE(CheckBase64("key", "MIIB+w==").ok());
  EXPECT_TRUE(CheckBase64("key", "MIIB-w").ok());
  EXPECT_FALSE(CheckBase64("key", "").ok());
  EXPECT_FALSE(CheckBase64("key", "MII B").ok());
  EXPECT_FALSE(CheckBase64("key", "MIIBw").ok()) << "a length no encoding produces";
}

}  // namespace
}  // namespace meridian::directory
