#include "directory/password_policy.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>

namespace meridian::directory {
namespace {

namespace json = boost::json;

bool Accepted(std::string_view password) { return CheckPasswordPolicy(password).ok(); }

TEST(PasswordPolicy, LengthIsEightTo256) {
  EXPECT_FALSE(Accepted("Xk7!qpz"));
  EXPECT_TRUE(Accepted("Xk7!qpzw"));
  std::string longest = "Xk7!" + std::string(252, 'q');
  EXPECT_TRUE(Accepted(longest));
  EXPECT_FALSE(Accepted(longest + "q"));
}

TEST(PasswordPolicy, OnlyPrintableAsciiAndTheSpace) {
  EXPECT_TRUE(Accepted("Xk7 qpzw vt"));
  // Every symbol of Entra's list is accepted.
  EXPECT_TRUE(Accepted("Xk7qpzw@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>"));
  EXPECT_FALSE(Accepted("Xk7!qp\xc3\xa9zw"));  // é
  EXPECT_FALSE(Accepted("Xk7!qp\tzw"));
  EXPECT_FALSE(Accepted(std::string("Xk7!qp\0zw", 9)));
  EXPECT_FALSE(Accepted("Xk7!qp\x7fzw"));
}

TEST(PasswordPolicy, ThreeOfFourKinds) {
  EXPECT_FALSE(Accepted("xkqpzwvtrm"));  // lower
  EXPECT_FALSE(Accepted("xkqpzw7294"));  // lower, digits
  EXPECT_FALSE(Accepted("xkqpzw !?!"));  // lower, symbols (a space is no symbol)
  EXPECT_FALSE(Accepted("XKQPZW7294"));  // upper, digits
  EXPECT_FALSE(Accepted("xkqp zw 72"));  // lower, digits and spaces
  EXPECT_TRUE(Accepted("xkqpZW7294"));   // lower, upper, digits
  EXPECT_TRUE(Accepted("xkqpzw72!?"));   // lower, digits, symbols
  EXPECT_TRUE(Accepted("XKQPZW72!?"));   // upper, digits, symbols
  EXPECT_TRUE(Accepted("xkqpZW!?!?"));   // lower, upper, symbols
}

TEST(PasswordPolicy, RefusalsAreGraphsBadRequest) {
  Status s = CheckPasswordPolicy("short");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.graph_code(), "Request_BadRequest");
  EXPECT_EQ(s.message().rfind("The specified password does not comply with password complexity "
                              "requirements.",
                              0),
            0u)
      << s.message();
  EXPECT_NE(s.message().find("8 to 256"), std::string::npos) << s.message();
}

TEST(PasswordPolicy, NormalizationAsPasswordProtection) {
  EXPECT_EQ(NormalizePassword("P@$$w0rd1"), "passwordl");
  EXPECT_EQ(NormalizePassword("Bl@nK"), "blank");
  EXPECT_EQ(NormalizePassword("AZaz09!~ "), "azazo9!~ ");
  for (const std::string& term : BannedTerms()) {
    EXPECT_GE(term.size(), 4u) << term;
    EXPECT_EQ(NormalizePassword(term), term);
  }
  EXPECT_GT(BannedTerms().size(), 150u);
}

TEST(PasswordPolicy, FuzzyMatchingIsOneEdit) {
  EXPECT_EQ(BannedTermScore("password"), 1);
  EXPECT_EQ(BannedTermScore("P@ssw0rd"), 1);
  EXPECT_EQ(BannedTermScore("passwrd"), 1) << "a deletion";
  EXPECT_EQ(BannedTermScore("passwoard"), 1) << "an insertion";
  EXPECT_EQ(BannedTermScore("passXord"), 1) << "a substitution";
  EXPECT_EQ(BannedTermScore("paXXword"), 8) << "two edits are not a match";
  EXPECT_EQ(BannedTermScore("xkqpzw"), 6) << "no banned term";
  // Four-character terms match exactly only.
  EXPECT_EQ(BannedTermScore("love"), 1);
  EXPECT_EQ(BannedTermScore("lovX"), 4);
  EXPECT_EQ(BannedTermScore("Summer2024"), 2) << "a term and a year";
}

TEST(PasswordPolicy, ScoreIsOnePointPerTermAndPerOtherCharacter) {
  // The documentation's examples, with this list's terms: two terms and two characters are
  // four points, refused; two terms and three characters are five, accepted.
  EXPECT_EQ(BannedTermScore("Summ3rL0ndon12"), 4);
  EXPECT_FALSE(Accepted("Summ3rL0ndon12"));
  EXPECT_EQ(BannedTermScore("SummerLondon9f!"), 5);
  EXPECT_TRUE(Accepted("SummerLondon9f!"));
  // Common passwords that pass the kinds rule are refused.
  for (const char* common :
       {"P@ssw0rd!", "Password123!", "Passw0rd2024", "Welcome1!", "Qwerty123!", "Admin@123",
        "Summer2024", "Iloveyou!1", "Football#1", "Microsoft1!"}) {
    EXPECT_FALSE(Accepted(common)) << common << " scores " << BannedTermScore(common);
  }
  // A banned term inside enough else is fine.
  EXPECT_TRUE(Accepted("N3w!Passw0rd-xq"));
}

PasswordOwner Adele() {
  json::object user{{"givenName", "Adele"},
                    {"surname", "Vance"},
                    {"displayName", "Adele Vance (Sales)"},
                    {"userPrincipalName", "adele.v@contoso.example"}};
  return PasswordOwnerOf(user, "Contoso Pharma");
}

TEST(PasswordPolicy, NamesOfTheUserAndTheOrganizationAreRefused) {
  PasswordOwner adele = Adele();
  EXPECT_TRUE(CheckPasswordPolicy("Quiet-Harbor-47", adele).ok());
  for (const char* bad : {"Vance!Harbor47", "xADELE-harbor-9", "V@nce-Harbor-47", "Harbor-S@les-47",
                          "Contoso#Harbor7", "Pharma!Harbor47"}) {
    Status s = CheckPasswordPolicy(bad, adele);
    EXPECT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.message().find("name"), std::string::npos) << s.message();
    EXPECT_TRUE(Accepted(bad)) << bad << ": refused for its names only";
  }
  // The UPN's local part is matched ("adele.v": "adele"; "v" is too short); its domain is the
  // tenant's, shared by all, and not matched.
  EXPECT_TRUE(CheckPasswordPolicy("Example!Harbor47", adele).ok());
  // Names shorter than four characters are not matched.
  PasswordOwner al = PasswordOwnerOf(
      json::parse(R"({"displayName": "Al Wu", "userPrincipalName": "al@x.example"})").as_object(),
      "Ox");
  EXPECT_TRUE(CheckPasswordPolicy("Al-Wu-Ox-Harbor7", al).ok());
  // Non-ASCII names never match (passwords are ASCII) and break nothing.
  PasswordOwner zoe = PasswordOwnerOf(json::parse(R"({"displayName": "Zoë Ångström"})").as_object(),
                                      "Ünïcode GmbH");
  EXPECT_TRUE(CheckPasswordPolicy("Zoe-Angstrom-7", zoe).ok());
}

// A Random that serves `script` first, then a seeded stream (or the script again, when `cycle`).
class ScriptedRandom final : public Random {
 public:
  explicit ScriptedRandom(std::string script, bool cycle = false)
      : script_(std::move(script)), cycle_(cycle) {}
  void Fill(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) {
      if (cycle_ && pos_ == script_.size()) pos_ = 0;
      if (pos_ < script_.size()) {
        out[i] = static_cast<uint8_t>(script_[pos_++]);
      } else {
        rest_->Fill(out + i, 1);
      }
    }
  }

 private:
  std::string script_;
  bool cycle_;
  size_t pos_ = 0;
  std::unique_ptr<Random> rest_ = NewSeededRandom(7);
};

// The 32 bytes that make GeneratePassword's first draw `target` (four characters of each kind):
// the kind of position i is i % 4, then positions are swapped from the last down (Fisher-Yates).
std::string BytesFor(std::string_view target) {
  static constexpr std::string_view kKinds[] = {
      "ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*-_=+?"};
  std::map<int, std::string> of_kind;  // the target's characters, by kind
  for (char c : target) {
    for (int k = 0; k < 4; ++k) {
      if (kKinds[k].find(c) != std::string_view::npos) of_kind[k].push_back(c);
    }
  }
  std::string chars(16, '\0'), draw(16, '\0'), order(16, '\0');
  for (int i = 0; i < 16; ++i) {
    std::string& pool = of_kind[i % 4];
    chars[i] = pool.back();
    pool.pop_back();
    draw[i] = static_cast<char>(kKinds[i % 4].find(chars[i]));
  }
  for (int i = 15; i > 0; --i) {
    int j = static_cast<int>(chars.substr(0, i + 1).find(target[i]));
    order[i] = static_cast<char>(j);
    std::swap(chars[i], chars[j]);
  }
  EXPECT_EQ(chars, target);
  return draw + order;
}

TEST(PasswordPolicy, GeneratedPasswordsSatisfyThePolicyForTheirOwner) {
  PasswordOwner admin = PasswordOwnerOf(
      json::parse(R"({"displayName": "Administrator", "userPrincipalName": "admin@c.example"})")
          .as_object(),
      "Contoso");
  // A first draw holding the user's alias is drawn again.
  const std::string bad = "ADmiNZxy2345!#%?";
  ASSERT_FALSE(CheckPasswordPolicy(bad, admin).ok());
  ScriptedRandom scripted(BytesFor(bad));
  auto pw = GeneratePassword(&scripted, admin);
  ASSERT_TRUE(pw.ok()) << pw.status().ToString();
  EXPECT_NE(*pw, bad);
  EXPECT_TRUE(CheckPasswordPolicy(*pw, admin).ok()) << *pw;
  // The script itself is right: served alone, it is the first draw.
  ScriptedRandom again(BytesFor("QRmiNZxy2345!#%?"));
  EXPECT_EQ(*GeneratePassword(&again, admin), "QRmiNZxy2345!#%?");

  // Many draws: all 16 characters, four of each kind, within the policy.
  auto random = NewSeededRandom(20240605);
  for (int i = 0; i < 200; ++i) {
    auto p = GeneratePassword(random.get(), admin);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->size(), 16u);
    EXPECT_TRUE(CheckPasswordPolicy(*p, admin).ok()) << *p;
  }
}

TEST(PasswordPolicy, ABrokenRandomEndsGenerationWithAnError) {
  // A Random that repeats itself draws the same refused password every time.
  PasswordOwner admin{{"admin"}, ""};
  ScriptedRandom stuck(BytesFor("ADmiNZxy2345!#%?"), /*cycle=*/true);
  auto r = GeneratePassword(&stuck, admin);
  EXPECT_EQ(r.status().code(), Code::kInternal);
}

}  // namespace
}  // namespace meridian::directory
