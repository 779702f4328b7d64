#include "odata/internal/literals.h"

#include <algorithm>

namespace meridian::odata::internal {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Days from 0000-03-01 to March 1st of year `y` (years counted from March, so that February and
// its leap day come last).
int64_t DaysBeforeMarchYear(int64_t y) {
  return 365 * y + FloorDiv(y, 4) - FloorDiv(y, 100) + FloorDiv(y, 400);
}

// Days from 0000-03-01 to 1970-01-01.
constexpr int64_t kEpochShift = 719468;

int64_t DaysFromCivil(int64_t y, int m, int d) {
  if (m <= 2) --y;
  int month_from_march = (m + 9) % 12;
  int64_t day_of_year = (153 * month_from_march + 2) / 5 + d - 1;
  return DaysBeforeMarchYear(y) + day_of_year - kEpochShift;
}

void CivilFromDays(int64_t days, int64_t* y, int* m, int* d) {
  int64_t z = days + kEpochShift;
  int64_t year = FloorDiv(z * 400, 146097);
  while (DaysBeforeMarchYear(year + 1) <= z) ++year;
  while (DaysBeforeMarchYear(year) > z) --year;
  int64_t day_of_year = z - DaysBeforeMarchYear(year);
  int month_from_march = static_cast<int>((5 * day_of_year + 2) / 153);
  *d = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  *m = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
  *y = year + (*m <= 2 ? 1 : 0);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

char Fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Reads exactly `n` digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, size_t n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t k = 0; k < n; ++k) {
    char c = s[*pos + k];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos >= s.size() || Fold(s[*pos]) != Fold(c)) return false;
  ++*pos;
  return true;
}

}  // namespace

std::optional<Instant> ParseDateTime(std::string_view s) {
  size_t p = 0;
  int year, month, day, hour, minute, second = 0;
  if (!Digits(s, &p, 4, &year) || !Expect(s, &p, '-') || !Digits(s, &p, 2, &month) ||
      !Expect(s, &p, '-') || !Digits(s, &p, 2, &day) || !Expect(s, &p, 'T') ||
      !Digits(s, &p, 2, &hour) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &minute)) {
    return std::nullopt;
  }
  int32_t nanos = 0;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!Digits(s, &p, 2, &second)) return std::nullopt;
    if (p < s.size() && s[p] == '.') {
      ++p;
      size_t digits = 0;
      while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
        if (digits < 9) nanos = nanos * 10 + (s[p] - '0');
        ++digits;
        ++p;
      }
      if (digits == 0) return std::nullopt;
      for (size_t k = digits; k < 9; ++k) nanos *= 10;
    }
  }
  int64_t offset = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p] == '+' ? 1 : -1;
    ++p;
    int oh, om;
    if (!Digits(s, &p, 2, &oh) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &om)) {
      return std::nullopt;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (p != s.size()) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return std::nullopt;
  }
  Instant t;
  t.seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  t.nanos = nanos;
  return t;
}

std::optional<std::string> FoldedUtcSecond(const Instant& t) {
  int64_t days = FloorDiv(t.seconds, 86400);
  int64_t secs = t.seconds - days * 86400;
  int64_t y;
  int m, d;
  CivilFromDays(days, &y, &m, &d);
  if (y < 0 || y > 9999) return std::nullopt;
  char buf[24];
  auto two = [&](char* at, int v) {
    at[0] = static_cast<char>('0' + v / 10);
    at[1] = static_cast<char>('0' + v % 10);
  };
  int yi = static_cast<int>(y);
  two(buf, yi / 100);
  two(buf + 2, yi % 100);
  buf[4] = '-';
  two(buf + 5, m);
  buf[7] = '-';
  two(buf + 8, d);
  buf[10] = 't';
  two(buf + 11, static_cast<int>(secs / 3600));
  buf[13] = ':';
  two(buf + 14, static_cast<int>(secs / 60 % 60));
  buf[16] = ':';
  two(buf + 17, static_cast<int>(secs % 60));
  return std::string(buf, 19);
}

int CompareFolded(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t k = 0; k < n; ++k) {
    auto x = static_cast<unsigned char>(Fold(a[k]));
    auto y = static_cast<unsigned char>(Fold(b[k]));
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

bool StartsWithFolded(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && CompareFolded(s.substr(0, prefix.size()), prefix) == 0;
}

bool EndsWithFolded(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         CompareFolded(s.substr(s.size() - suffix.size()), suffix) == 0;
}

std::string Excerpt(std::string_view text) {
  constexpr size_t kMax = 32;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t k = 0; k < text.size() && k < kMax; ++k) {
    auto c = static_cast<unsigned char>(text[k]);
    if (c < 0x20 || c >= 0x7f || c == '\\') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace meridian::odata::internal
