// A QR code's matrix has the size of its version and the three finder patterns in its corners;
// its SVG draws exactly the dark modules, with an escaped accessible name.
#include "web/qr.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace meridian::web {
namespace {

// Whether the 7x7 finder pattern (a dark ring, a light ring, a dark 3x3 core) is at (x, y).
bool FinderAt(const std::vector<std::vector<bool>>& m, size_t x, size_t y) {
  for (size_t dy = 0; dy < 7; ++dy) {
    for (size_t dx = 0; dx < 7; ++dx) {
      size_t ring = std::min(std::min(dx, dy), std::min(6 - dx, 6 - dy));
      bool dark = ring != 1;
      if (m[y + dy][x + dx] != dark) return false;
    }
  }
  return true;
}

TEST(QrTest, TheMatrixHasItsVersionsSizeAndTheFinderPatterns) {
  std::string uri =
      "otpauth://totp/Meridian:adele%40contoso.test?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
      "&issuer=Meridian&algorithm=SHA1&digits=6&period=30";
  auto m = QrMatrix(uri);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  size_t n = m->size();
  EXPECT_EQ((n - 17) % 4, 0u) << "a version's size is 17 + 4 * version";
  EXPECT_GE(n, 37u) << "this much text needs version 5 or more at level M";
  EXPECT_TRUE(FinderAt(*m, 0, 0));
  EXPECT_TRUE(FinderAt(*m, n - 7, 0));
  EXPECT_TRUE(FinderAt(*m, 0, n - 7));
  EXPECT_FALSE(FinderAt(*m, n - 7, n - 7));
  // The same text, the same code; another text, another code.
  EXPECT_EQ(*QrMatrix(uri), *m);
  EXPECT_NE(*QrMatrix(uri + "x"), *m);
}

TEST(QrTest, TheSvgDrawsEachDarkModuleOnce) {
  auto m = QrMatrix("hello");
  auto svg = QrSvg("hello", "Scan <this> & enrol");
  ASSERT_TRUE(m.ok() && svg.ok());
  size_t dark = 0;
  for (const auto& row : *m) dark += static_cast<size_t>(std::count(row.begin(), row.end(), true));
  size_t drawn = 0;
  for (size_t at = svg->find("h1v1h-1z"); at != std::string::npos;
       at = svg->find("h1v1h-1z", at + 1)) {
    ++drawn;
  }
  EXPECT_EQ(drawn, dark);
  std::string size = std::to_string(m->size() + 8);
  EXPECT_NE(svg->find("viewBox=\"0 0 " + size + " " + size + "\""), std::string::npos);
  EXPECT_NE(svg->find("<title>Scan &lt;this&gt; &amp; enrol</title>"), std::string::npos);
  EXPECT_EQ(svg->find("<this>"), std::string::npos);
}

TEST(QrTest, TooMuchTextIsRefused) {
  EXPECT_EQ(QrMatrix(std::string(4000, 'x')).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace meridian::web
