#include "web/qr.h"

#include <qrencode.h>

#include <memory>

#include "web/html.h"

namespace meridian::web {
namespace {

constexpr int kQuietZone = 4;

}  // namespace

Result<std::vector<std::vector<bool>>> QrMatrix(std::string_view text) {
  std::unique_ptr<QRcode, decltype(&QRcode_free)> code(
      QRcode_encodeData(static_cast<int>(text.size()),
                        reinterpret_cast<const unsigned char*>(text.data()), 0, QR_ECLEVEL_M),
      &QRcode_free);
  if (!code) return InvalidArgument("the text does not fit a QR code");
  int n = code->width;
  std::vector<std::vector<bool>> rows(static_cast<size_t>(n), std::vector<bool>(static_cast<size_t>(n)));
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) rows[y][x] = code->data[y * n + x] & 1;  // bit 0: dark
  }
  return rows;
}

Result<std::string> QrSvg(std::string_view text, std::string_view title) {
  MERIDIAN_ASSIGN_OR_RETURN(auto rows, QrMatrix(text));
  int size = static_cast<int>(rows.size()) + 2 * kQuietZone;
  std::string path;
  for (size_t y = 0; y < rows.size(); ++y) {
    for (size_t x = 0; x < rows.size(); ++x) {
      if (rows[y][x]) {
        path += "M" + std::to_string(x + kQuietZone) + " " + std::to_string(y + kQuietZone) +
                "h1v1h-1z";
      }
    }
  }
  std::string s = std::to_string(size);
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + s + " " + s +
         "\" role=\"img\" aria-label=\"" + Escape(title) + "\" shape-rendering=\"crispEdges\">"
         "<title>" + Escape(title) + "</title><rect width=\"" + s + "\" height=\"" + s +
         "\" fill=\"#fff\"/><path fill=\"#000\" d=\"" + path + "\"/></svg>";
}

}  // namespace meridian::web
