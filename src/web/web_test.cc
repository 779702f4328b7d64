// Pages: escaping, the layout's accessibility and headers; cookies read and written with the
// attributes a session needs; CSRF tokens bound to their session and purpose.
#include <gtest/gtest.h>

#include "web/cookies.h"
#include "web/csrf.h"
#include "web/html.h"

namespace meridian::web {
namespace {

TEST(HtmlTest, EscapingLeavesNoMarkup) {
  EXPECT_EQ(Escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
}

TEST(HtmlTest, APageHasALanguageATitleOneHeadingAndAnAnnouncedError) {
  std::string html = Render({"Sign in <now>", "Wrong <b>password</b>", "<form></form>"});
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.find("name=\"viewport\""), std::string::npos);
  EXPECT_NE(html.find("<title>Sign in &lt;now&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<h1>Sign in &lt;now&gt;</h1>"), std::string::npos);
  EXPECT_NE(html.find("role=\"alert\">Wrong &lt;b&gt;password&lt;/b&gt;</p>"), std::string::npos);
  EXPECT_NE(html.find("<form></form>"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(Render({"T", "", ""}).find("role=\"alert\""), std::string::npos);
  bool framing = false, csp = false;
  for (const auto& [k, v] : PageHeaders()) {
    framing |= k == "X-Frame-Options" && v == "DENY";
    csp |= k == "Content-Security-Policy" && v.find("default-src 'none'") != std::string::npos &&
           v.find("frame-ancestors 'none'") != std::string::npos;
  }
  EXPECT_TRUE(framing);
  EXPECT_TRUE(csp);
}

TEST(CookiesTest, ReadTheNamedCookieOnly) {
  EXPECT_EQ(CookieValue("a=1; msid=abc; b=2", "msid"), "abc");
  EXPECT_EQ(CookieValue("xmsid=1; msid=\"q\"", "msid"), "q");
  EXPECT_EQ(CookieValue("msid=first; msid=second", "msid"), "first");
  EXPECT_EQ(CookieValue("a=1; b=2", "msid"), std::nullopt);
  EXPECT_EQ(CookieValue("", "msid"), std::nullopt);
  EXPECT_EQ(CookieValue("msid", "msid"), std::nullopt);
}

TEST(CookiesTest, ASessionCookieIsSecureHttpOnlyAndLax) {
  EXPECT_EQ(SetCookie("msid", "v", {"/contoso", -1, "Lax"}),
            "msid=v; Path=/contoso; Secure; HttpOnly; SameSite=Lax");
  EXPECT_EQ(SetCookie("msid", "", {"/", 0, "Lax"}),
            "msid=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Lax");
}

TEST(CsrfTest, ATokenPassesOnlyItsSessionAndPurpose) {
  std::string key(32, 'k');
  std::string t = CsrfToken(key, "session-1", "signin");
  EXPECT_EQ(t.size(), 43u);
  EXPECT_TRUE(CheckCsrf(key, "session-1", "signin", t));
  EXPECT_FALSE(CheckCsrf(key, "session-2", "signin", t));
  EXPECT_FALSE(CheckCsrf(key, "session-1", "consent", t));
  EXPECT_FALSE(CheckCsrf(std::string(32, 'x'), "session-1", "signin", t));
  EXPECT_FALSE(CheckCsrf(key, "session-1", "signin", ""));
  EXPECT_FALSE(CheckCsrf(key, "", "signin", CsrfToken(key, "", "signin")));
  // The fields cannot be shifted into each other.
  EXPECT_NE(CsrfToken(key, "ab", "c"), CsrfToken(key, "a", "bc"));
}

}  // namespace
}  // namespace meridian::web
