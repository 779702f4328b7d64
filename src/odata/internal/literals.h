// Private helpers of the odata module shared by the parser, the evaluator, the planner and the
// query options: DateTimeOffset parsing into instants, ASCII case-folded string comparison, and
// quoting of client input in error messages.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::odata::internal {

// A point in time: seconds since the Unix epoch and nanoseconds within that second.
struct Instant {
  int64_t seconds = 0;
  int32_t nanos = 0;
  auto operator<=>(const Instant&) const = default;
};

// Parses an ISO 8601 DateTimeOffset: YYYY-MM-DDTHH:MM[:SS[.fraction]] followed by Z or +HH:MM /
// -HH:MM ('T' and 'Z' in either case). Fraction digits beyond nine are ignored. Returns nullopt
// for anything else, including impossible dates (2023-02-29) and out-of-range fields.
std::optional<Instant> ParseDateTime(std::string_view text);

// "yyyy-mm-ddthh:mm:ss": the UTC second containing `t`, lower-cased as the index folds stored
// strings. nullopt when the UTC year is outside 0000..9999.
std::optional<std::string> FoldedUtcSecond(const Instant& t);

// Three-way comparison of two strings after ASCII lower-casing, bytewise (as unsigned chars).
int CompareFolded(std::string_view a, std::string_view b);
bool StartsWithFolded(std::string_view s, std::string_view prefix);
bool EndsWithFolded(std::string_view s, std::string_view suffix);

// Quotes a piece of client input for an error message: at most 32 characters, with control,
// non-ASCII and backslash bytes written as \xNN so that hostile input cannot forge log lines.
std::string Excerpt(std::string_view text);

}  // namespace meridian::odata::internal
