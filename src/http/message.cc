#include "http/message.h"

#include "common/encoding.h"

namespace meridian::http {

std::optional<std::string_view> Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string> QueryParam(const Request& req, std::string_view name) {
  for (const auto& [k, v] : req.query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Status ParseTarget(std::string_view target, Request* req) {
  req->target.assign(target);
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return InvalidArgument("The request target is malformed.");
  }
  std::string_view rest = target;
  bool absolute = false;
  // Absolute form (RFC 9112 section 3.2.2): drop the scheme and authority.
  for (std::string_view scheme : {std::string_view("https://"), std::string_view("http://")}) {
    if (rest.size() >= scheme.size() && EqualsIgnoreCase(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
      size_t end = rest.find_first_of("/?");
      rest = end == std::string_view::npos ? std::string_view("/") : rest.substr(end);
      absolute = true;
      break;
    }
  }
  if (rest.empty() || (rest[0] != '/' && !(absolute && rest[0] == '?'))) {
    return InvalidArgument("The request target is malformed.");
  }
  size_t qmark = rest.find('?');
  std::string_view raw_path = rest.substr(0, qmark);
  if (raw_path.empty()) raw_path = "/";
  size_t hash = raw_path.find('#');  // a fragment is never sent, but ignore one if it is
  if (hash != std::string_view::npos) raw_path = raw_path.substr(0, hash);
  if (!PercentDecode(raw_path, /*plus_is_space=*/false, &req->path)) {
    return InvalidArgument("The request path has a malformed percent-encoding.");
  }

  size_t n = 0;  // entries of req->query in use; the others are reused or dropped at the end
  if (qmark != std::string_view::npos) {
    std::string_view q = rest.substr(qmark + 1);
    size_t h = q.find('#');
    if (h != std::string_view::npos) q = q.substr(0, h);
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view part = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
      if (part.empty()) continue;
      size_t eq = part.find('=');
      std::string_view key = part.substr(0, eq);
      std::string_view value =
          eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1);
      if (n == req->query.size()) req->query.emplace_back();
      auto& [k, v] = req->query[n++];
      if (!PercentDecode(key, true, &k) || !PercentDecode(value, true, &v)) {
        return InvalidArgument("The query string has a malformed percent-encoding.");
      }
    }
  }
  req->query.resize(n);
  return Status::Ok();
}

void Response::SetJson(int s, std::string b) {
  status = s;
  body = std::move(b);
  SetHeader("Content-Type", "application/json");
}

void Response::SetHeader(std::string_view name, std::string value) {
  for (auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) {
      v = std::move(value);
      return;
    }
  }
  headers.emplace_back(std::string(name), std::move(value));
}

}  // namespace meridian::http
