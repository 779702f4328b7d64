// HTML for the server-rendered sign-in pages: escaping, and the one page layout every page uses.
// The pages work without JavaScript, read well on a phone (viewport, one column, large targets)
// and are accessible (a language, a title, one heading, labelled fields, an error announced to
// screen readers).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::web {

// `text` with & < > " ' replaced by entities: safe in element content and in quoted attributes.
std::string Escape(std::string_view text);

struct Page {
  std::string title;    // text: the document's title and its one <h1>
  std::string error;    // text: shown above the content with role="alert"; empty for none
  std::string content;  // HTML, already escaped by whoever built it
};

// The whole document. Its policy (Content-Security-Policy and the like) goes in the response's
// headers: see PageHeaders.
std::string Render(const Page& page);

// Response headers every page carries: no caching, no framing (clickjacking), a content security
// policy that allows no script and only this origin's forms, no referrer. A page that posts
// elsewhere (the form_post response to a client's redirect URI) replaces the policy's
// form-action with that origin.
const std::vector<std::pair<std::string, std::string>>& PageHeaders();

}  // namespace meridian::web
