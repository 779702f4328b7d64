#include "directory/password_policy.h"

#include <algorithm>
#include <set>

namespace meridian::directory {
namespace {

namespace json = boost::json;

// Base words of the most common passwords, as the public breach-frequency lists rank them (the
// UK NCSC's list of the 100,000 passwords most seen in Have I Been Pwned's breaches, and the
// yearly "most common passwords" lists of SplashData and NordPass): keyboard walks and digit
// runs, "password" and its translations, greetings, sports, names, places, brands, seasons,
// months and days. Written out here, not taken from a file. Fuzzy matching (one edit) covers
// their near variants and normalization their common substitutions (P@ssw0rd is password).
// clang-format off
constexpr std::string_view kBannedTerms[] = {
    // Four characters: matched exactly, not fuzzily (one edit from four characters is three).
    "1234", "4321", "1111", "0000", "qwer", "asdf", "zxcv", "pass", "love", "baby", "test", "user",
    "root", "temp", "blue", "cats", "dogs",
    // Keyboard walks and digit runs.
    "12345", "23456", "34567", "45678", "56789", "54321", "98765", "11111", "00000", "123123",
    "121212", "112233", "qwerty", "qwertz", "azerty", "asdfgh", "zxcvbn", "qazwsx", "1qaz2wsx",
    "1q2w3e", "q1w2e3", "zaq12wsx", "abc123", "abcdef", "qwerty123", "aaaaa", "zzzzz",
    // Password and its variants and translations.
    "password", "password1", "password123", "passwort", "motdepasse", "contrasena", "wachtwoord",
    "salasana", "haslo", "parola", "senha", "passe",
    // Access and administration.
    "admin", "admin123", "administrator", "welcome", "welcome123", "letmein", "login", "secret",
    "access", "master", "default", "changeme", "temppass", "temporary", "testing", "guest",
    "trustno1", "whatever", "nothing", "hello", "iloveyou", "iloveu", "loveme", "lovely",
    // Brands and products.
    "microsoft", "windows", "office", "outlook", "azure", "google", "facebook", "linkedin",
    "twitter", "youtube", "samsung", "apple", "company", "computer", "internet",
    // Seasons, months and days.
    "summer", "winter", "spring", "autumn", "january", "february", "march", "april", "august",
    "september", "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday",
    // Sports and clubs.
    "football", "baseball", "basketball", "soccer", "hockey", "liverpool", "chelsea", "arsenal",
    "barcelona",
    // Popular culture.
    "dragon", "monkey", "shadow", "superman", "batman", "spiderman", "starwars", "pokemon",
    "matrix", "ninja", "killer", "hunter", "ranger", "mustang", "corvette", "ferrari", "harley",
    // Names.
    "michael", "charlie", "thomas", "jessica", "ashley", "jennifer", "daniel", "andrew", "joshua",
    "matthew", "robert", "nicole", "hannah", "amanda", "michelle", "jordan", "buster", "tigger",
    "maggie", "bailey", "princess", "angel", "jesus",
    // Everyday words.
    "sunshine", "flower", "forever", "family", "blessed", "freedom", "liberty", "ginger", "pepper",
    "cookie", "cheese", "banana", "orange", "purple", "yellow", "silver", "golden", "diamond",
    "chocolate", "butterfly", "money", "lover",
    // Places.
    "london", "paris", "america", "canada", "mexico", "brazil", "germany", "france", "england",
};
// clang-format on

// Years, matched exactly: "Summer2024" is a season and a year.
constexpr int kFirstBannedYear = 1950, kLastBannedYear = 2039;

// Terms this long or longer are matched fuzzily (one edit); shorter ones exactly.
constexpr size_t kMinFuzzyTerm = 5;
constexpr int kMinimumScore = 5;
constexpr size_t kMinNameTerm = 4;  // names shorter than this are not matched (as in Entra)

Status Refuse(std::string_view why) {
  return InvalidArgument(
      "The specified password does not comply with password complexity requirements. Please "
      "provide a different password. " +
          std::string(why),
      "Request_BadRequest");
}

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Whether `s` and `term` are at most one edit (a substitution, an insertion or a deletion)
// apart.
bool WithinOneEdit(std::string_view s, std::string_view term) {
  if (s.size() == term.size()) {
    int diff = 0;
    for (size_t i = 0; i < s.size() && diff < 2; ++i) diff += s[i] != term[i];
    return diff < 2;
  }
  std::string_view longer = s.size() > term.size() ? s : term;
  std::string_view shorter = s.size() > term.size() ? term : s;
  if (longer.size() != shorter.size() + 1) return false;
  size_t i = 0;
  while (i < shorter.size() && shorter[i] == longer[i]) ++i;
  return shorter.substr(i) == longer.substr(i + 1);
}

// The words of `name`, normalized, that are long enough to match.
void AddNameTerms(std::string_view name, std::set<std::string>* terms) {
  std::string normalized = NormalizePassword(name);
  std::string word;
  for (size_t i = 0; i <= normalized.size(); ++i) {
    char c = i < normalized.size() ? normalized[i] : ' ';
    // Non-ASCII bytes stay inside a word: such a word never matches, as a password is ASCII.
    if (IsAsciiAlnum(c) || static_cast<unsigned char>(c) >= 0x80) {
      word.push_back(c);
      continue;
    }
    if (word.size() >= kMinNameTerm) terms->insert(word);
    word.clear();
  }
}

// The 16-character candidates of GeneratePassword, four of each kind, shuffled.
std::string DrawPassword(Random* random) {
  static constexpr std::string_view kKinds[] = {
      "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*-_=+?"};
  std::string bytes = random->Bytes(16);
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    std::string_view kind = kKinds[i % 4];
    out.push_back(kind[static_cast<uint8_t>(bytes[i]) % kind.size()]);
  }
  std::string order = random->Bytes(16);
  for (size_t i = 15; i > 0; --i) std::swap(out[i], out[static_cast<uint8_t>(order[i]) % (i + 1)]);
  return out;
}

}  // namespace

std::string NormalizePassword(std::string_view password) {
  std::string out;
  out.reserve(password.size());
  for (char c : password) {
    switch (c) {
      case '0':
        out.push_back('o');
        break;
      case '1':
        out.push_back('l');
        break;
      case '$':
        out.push_back('s');
        break;
      case '@':
        out.push_back('a');
        break;
      default:
        out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
  }
  return out;
}

const std::vector<std::string>& BannedTerms() {
  static const std::vector<std::string> terms = [] {
    std::set<std::string> unique;
    for (std::string_view t : kBannedTerms) unique.insert(NormalizePassword(t));
    for (int year = kFirstBannedYear; year <= kLastBannedYear; ++year) {
      unique.insert(NormalizePassword(std::to_string(year)));
    }
    return std::vector<std::string>(unique.begin(), unique.end());
  }();
  return terms;
}

int BannedTermScore(std::string_view password) {
  const std::string p = NormalizePassword(password);
  const size_t n = p.size();
  // best[i]: the fewest points for p[i..]; each position either scores its character alone or
  // starts a banned term (within one edit) that scores one point for all it covers. A term with a
  // character inserted counts only when the insertion is inside it: a character next to a term
  // scores on its own, as the documented examples score them ("contosoblankf9!" is five points,
  // not four through "blankf").
  std::vector<int> best(n + 1, 0);
  for (size_t i = n; i-- > 0;) {
    best[i] = 1 + best[i + 1];
    for (const std::string& term : BannedTerms()) {
      if (term.size() < kMinFuzzyTerm) {
        if (p.compare(i, term.size(), term) == 0 && 1 + best[i + term.size()] < best[i]) {
          best[i] = 1 + best[i + term.size()];
        }
        continue;
      }
      for (size_t len = term.size() - 1; len <= term.size() + 1; ++len) {
        if (i + len > n || 1 + best[i + len] >= best[i]) continue;
        std::string_view span = std::string_view(p).substr(i, len);
        if (len > term.size() && (span.front() != term.front() || span.back() != term.back())) {
          continue;
        }
        if (WithinOneEdit(span, term)) best[i] = 1 + best[i + len];
      }
    }
  }
  return best[0];
}

PasswordOwner PasswordOwnerOf(const json::object& user, std::string_view organization) {
  PasswordOwner owner;
  for (const char* property : {"givenName", "surname", "displayName", "userPrincipalName"}) {
    auto* v = user.if_contains(property);
    if (!v || !v->is_string()) continue;
    std::string_view s = v->get_string();
    // The userPrincipalName's local part: its domain is the tenant's, shared by every user.
    if (std::string_view(property) == "userPrincipalName") s = s.substr(0, s.rfind('@'));
    owner.names.emplace_back(s);
  }
  owner.organization = std::string(organization);
  return owner;
}

Status CheckPasswordPolicy(std::string_view password) {
  for (char c : password) {
    if (c < 0x20 || c > 0x7e) {
      return Refuse(
          "It may contain only the letters A-Z and a-z, the digits 0-9, spaces and the symbols "
          "@ # $ % ^ & * - _ ! + = [ ] { } | \\ : ' , . ? / ` ~ \" ( ) ; < >.");
    }
  }
  if (password.size() < 8 || password.size() > 256) {
    return Refuse("It must have 8 to 256 characters.");
  }
  bool lower = false, upper = false, digit = false, symbol = false;
  for (char c : password) {
    if (c >= 'a' && c <= 'z')
      lower = true;
    else if (c >= 'A' && c <= 'Z')
      upper = true;
    else if (c >= '0' && c <= '9')
      digit = true;
    else if (c != ' ')
      symbol = true;
  }
  if (lower + upper + digit + symbol < 3) {
    return Refuse("It must use three of: lower case letters, upper case letters, digits, symbols.");
  }
  if (BannedTermScore(password) < kMinimumScore) {
    return Refuse(
        "It contains a word, phrase or pattern that makes it easily guessable; add characters "
        "or choose other words.");
  }
  return Status::Ok();
}

Status CheckPasswordPolicy(std::string_view password, const PasswordOwner& owner) {
  MERIDIAN_RETURN_IF_ERROR(CheckPasswordPolicy(password));
  return CheckPasswordNames(password, owner);
}

Status CheckPasswordNames(std::string_view password, const PasswordOwner& owner) {
  std::set<std::string> terms;
  for (const std::string& name : owner.names) AddNameTerms(name, &terms);
  AddNameTerms(owner.organization, &terms);
  std::string normalized = NormalizePassword(password);
  for (const std::string& term : terms) {
    if (normalized.find(term) != std::string::npos) {
      return Refuse("It must not contain the user's name or the organization's name.");
    }
  }
  return Status::Ok();
}

Result<std::string> GeneratePassword(Random* random, const PasswordOwner& owner) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string candidate = DrawPassword(random);
    if (CheckPasswordPolicy(candidate, owner).ok()) return candidate;
  }
  return Internal("no generated password satisfied the password policy in 100 draws");
}

}  // namespace meridian::directory
