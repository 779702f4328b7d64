#include "web/html.h"

namespace meridian::web {

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// One column, system fonts, large touch targets, visible focus; no external resources.
constexpr std::string_view kStyle =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f3f3f3;color:#1b1b1b}"
    "main{max-width:26rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:.5rem}"
    "h1{font-size:1.5rem;margin:0 0 1rem}label{display:block;margin:.75rem 0 .25rem}"
    "input{width:100%;box-sizing:border-box;font-size:1rem;padding:.6rem}"
    "button{margin-top:1rem;width:100%;font-size:1rem;padding:.7rem;background:#0b5cad;"
    "color:#fff;border:0;border-radius:.25rem}"
    "button:focus,input:focus{outline:3px solid #ffb900}"
    ".error{background:#fde7e9;color:#a80000;padding:.75rem;border-radius:.25rem}"
    "svg{width:12rem;height:12rem;display:block;margin:1rem auto}";

}  // namespace

std::string Render(const Page& page) {
  std::string html =
      "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>" + Escape(page.title) + "</title><style>" + std::string(kStyle) +
      "</style></head><body><main><h1>" + Escape(page.title) + "</h1>";
  if (!page.error.empty()) {
    html += "<p class=\"error\" role=\"alert\">" + Escape(page.error) + "</p>";
  }
  return html + page.content + "</main></body></html>";
}

const std::vector<std::pair<std::string, std::string>>& PageHeaders() {
  static const std::vector<std::pair<std::string, std::string>> kHeaders = {
      {"Content-Type", "text/html; charset=utf-8"},
      {"Cache-Control", "no-store"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy",
       "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Content-Type-Options", "nosniff"}};
  return kHeaders;
}

}  // namespace meridian::web
