// QR codes drawn as inline SVG, for pages that show something a phone scans (an authenticator
// app's enrolment URI) with no script and no image fetched from elsewhere. libqrencode
// (Debian's libqrencode-dev) makes the module matrix; this draws it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::web {

// The modules of `text` encoded as a QR code (8-bit mode, error correction level M), row by row,
// true for dark; without the quiet zone. InvalidArgument when the text is too long for a QR code.
Result<std::vector<std::vector<bool>>> QrMatrix(std::string_view text);

// An <svg> element of that matrix with a four-module quiet zone: one path of dark modules on a
// white square, `title` (escaped) as its accessible name, scaled by the page (viewBox only).
Result<std::string> QrSvg(std::string_view text, std::string_view title);

}  // namespace meridian::web
