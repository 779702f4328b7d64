#include "crypto/password.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/encoding.h"

namespace meridian::crypto {
namespace {

// The hash segment of an encoded password hash.
std::string HashPart(const std::string& encoded) { return encoded.substr(encoded.rfind('$') + 1); }

std::string Hash(std::string_view password, std::string_view salt, const PasswordHashing& config) {
  auto h = HashPassword(password, salt, config);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : "";
}

// Small Argon2id parameters, so that tests stay fast.
PasswordHashing SmallArgon2(uint32_t m = 64, uint32_t t = 1, uint32_t p = 1) {
  return PasswordHashing::Argon2id({m, t, p});
}

// --- PBKDF2-HMAC-SHA256 -------------------------------------------------------------------------

TEST(Password, Pbkdf2KnownAnswers) {
  // PBKDF2-HMAC-SHA256, P="password", S="salt", dkLen=32 (the widely published vectors).
  EXPECT_EQ(
      HexEncode(*Base64UrlDecode(HashPart(Hash("password", "salt", PasswordHashing::Pbkdf2(1))))),
      "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  std::string h4096 = Hash("password", "salt", PasswordHashing::Pbkdf2(4096));
  EXPECT_TRUE(StartsWith(h4096, "$pbkdf2-sha256$i=4096$c2FsdA$"));
  EXPECT_EQ(HexEncode(*Base64UrlDecode(HashPart(h4096))),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
}

TEST(Password, Pbkdf2RoundTripWrongPasswordAndTamper) {
  const std::string salt = "0123456789abcdef";
  const PasswordHashing config = PasswordHashing::Pbkdf2(1000);
  std::string h = Hash("correct horse", salt, config);
  EXPECT_TRUE(StartsWith(h, "$pbkdf2-sha256$i=1000$"));
  EXPECT_EQ(h, Hash("correct horse", salt, config)) << "deterministic given the salt";
  EXPECT_NE(h, Hash("correct horse", "fedcba9876543210", config));

  ASSERT_TRUE(VerifyPassword("correct horse", h).ok());
  EXPECT_TRUE(*VerifyPassword("correct horse", h));
  EXPECT_FALSE(*VerifyPassword("correct horsE", h));
  EXPECT_FALSE(*VerifyPassword("", h));
  EXPECT_FALSE(*VerifyPassword("correct horse ", h));

  // A changed hash, salt or iteration count no longer matches.
  std::string tampered_hash = h;
  char& c = tampered_hash[tampered_hash.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(*VerifyPassword("correct horse", tampered_hash));
  std::string tampered_iterations = h;
  tampered_iterations.replace(tampered_iterations.find("i=1000"), 6, "i=1001");
  EXPECT_FALSE(*VerifyPassword("correct horse", tampered_iterations));
  std::string tampered_salt =
      "$pbkdf2-sha256$i=1000$" + Base64UrlEncode("0123456789abcdeF") + "$" + HashPart(h);
  EXPECT_FALSE(*VerifyPassword("correct horse", tampered_salt));

  std::string empty = Hash("", salt, PasswordHashing::Pbkdf2(10));
  EXPECT_TRUE(*VerifyPassword("", empty));
  EXPECT_FALSE(*VerifyPassword("x", empty));
  std::string binary(std::string("pa\0ss", 5));
  EXPECT_TRUE(*VerifyPassword(binary, Hash(binary, salt, PasswordHashing::Pbkdf2(10))));
  EXPECT_FALSE(*VerifyPassword("pa", Hash(binary, salt, PasswordHashing::Pbkdf2(10))));
}

TEST(Password, Pbkdf2MalformedEncodingsAreInvalidArgument) {
  std::string good = Hash("pw", "0123456789abcdef", PasswordHashing::Pbkdf2(100));
  std::string salt = Base64UrlEncode("0123456789abcdef");
  std::string hash = HashPart(good);
  ASSERT_TRUE(*VerifyPassword("pw", "$pbkdf2-sha256$i=100$" + salt + "$" + hash));
  const std::vector<std::string> malformed = {
      "",
      "plaintext",
      "pw",
      "$pbkdf2-sha256$",
      "$pbkdf2-sha1$i=100$" + salt + "$" + hash,
      "$pbkdf2-sha256$n=100$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=abc$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=0$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=-100$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=+100$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=0100$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=100x$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=99999999999999999999$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=" + std::to_string(kMaxPbkdf2Iterations + 1) + "$" + salt + "$" + hash,
      "$pbkdf2-sha256$i=100$" + salt,
      "$pbkdf2-sha256$i=100$" + salt + "$",
      "$pbkdf2-sha256$i=100$" + salt + "$" + hash + "$",
      "$pbkdf2-sha256$i=100$" + salt + "$" + hash + "=",
      "$pbkdf2-sha256$i=100$" + salt + "$" + hash.substr(0, hash.size() - 4),
      "$pbkdf2-sha256$i=100$" + salt + "$" + hash + "AAAA",
      "$pbkdf2-sha256$i=100$" + salt + "!$" + hash,
      "$PBKDF2-SHA256$i=100$" + salt + "$" + hash,
  };
  for (const std::string& m : malformed) {
    auto r = VerifyPassword("pw", m);
    EXPECT_FALSE(r.ok()) << m;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << m;
    EXPECT_TRUE(NeedsRehash(m, PasswordHashing::Pbkdf2(1))) << m;
  }
  // Base64url with non-zero trailing bits decodes to the same bytes but is not the one spelling
  // HashPassword writes: 43 characters carry 258 bits for a 256-bit hash.
  std::string noncanonical = hash;
  char last = noncanonical.back();
  noncanonical.back() = last == 'A' ? 'B' : static_cast<char>(last + 1);
  ASSERT_EQ(Base64UrlDecode(noncanonical), Base64UrlDecode(hash));
  EXPECT_FALSE(VerifyPassword("pw", "$pbkdf2-sha256$i=100$" + salt + "$" + noncanonical).ok());
}

// --- Argon2id -----------------------------------------------------------------------------------

// libargon2's reference test vectors for Argon2id v1.3 (phc-winner-argon2, src/test.c):
// password "password", salt "somesalt", 32-byte tags.
struct Argon2Vector {
  Argon2Params params;
  const char* hex;
  const char* encoded;
};
const Argon2Vector kArgon2Vectors[] = {
    {{65536, 2, 1},
     "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7",
     "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"},
    {{65536, 1, 1},
     "f6a5adc1ba723dddef9b5ac1d464e180fcd9dffc9d1cbf76cca2fed795d9ca98",
     "$argon2id$v=19$m=65536,t=1,p=1$c29tZXNhbHQ$9qWtwbpyPd3vm1rB1GThgPzZ3/ydHL92zKL+15XZypg"},
    {{256, 2, 1},
     "9dfeb910e80bad0311fee20f9c0e2b12c17987b4cac90c2ef54d5b3021c68bfe",
     "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"},
    // Two lanes, computed here on one thread, give the reference's (multi-threaded) answer.
    {{256, 2, 2},
     "6d093c501fd5999645e0ea3bf620d7b8be7fd2db59c20d9fff9539da2bf57037",
     "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"},
};

TEST(Password, Argon2idKnownAnswers) {
  for (const Argon2Vector& v : kArgon2Vectors) {
    std::string h = Hash("password", "somesalt", PasswordHashing::Argon2id(v.params));
    EXPECT_EQ(h, v.encoded);
    auto tag = Base64Decode(HashPart(v.encoded));
    ASSERT_TRUE(tag.has_value());
    EXPECT_EQ(HexEncode(*tag), v.hex);
    auto ok = VerifyPassword("password", v.encoded);
    ASSERT_TRUE(ok.ok()) << ok.status().ToString();
    EXPECT_TRUE(*ok) << v.encoded;
    EXPECT_FALSE(*VerifyPassword("passwore", v.encoded)) << v.encoded;
  }
}

TEST(Password, Argon2idRoundTripWrongPasswordAndTamper) {
  const std::string salt = "0123456789abcdef";
  const PasswordHashing config = SmallArgon2(64, 2, 1);
  std::string h = Hash("correct horse", salt, config);
  EXPECT_TRUE(StartsWith(h, "$argon2id$v=19$m=64,t=2,p=1$"));
  EXPECT_EQ(h, Hash("correct horse", salt, config)) << "deterministic given the salt";
  EXPECT_NE(h, Hash("correct horse", "fedcba9876543210", config));
  EXPECT_TRUE(*VerifyPassword("correct horse", h));
  EXPECT_FALSE(*VerifyPassword("correct horsE", h));
  EXPECT_FALSE(*VerifyPassword("", h));

  // Each parameter is part of what is hashed: changing one in the string breaks the match.
  for (auto [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"m=64,", "m=72,"}, {"t=2,", "t=3,"}, {"p=1$", "p=2$"}}) {
    std::string tampered = h;
    tampered.replace(tampered.find(from), from.size(), to);
    auto r = VerifyPassword("correct horse", tampered);
    ASSERT_TRUE(r.ok()) << tampered << ": " << r.status().ToString();
    EXPECT_FALSE(*r) << tampered;
  }
  std::string tampered_hash = h;
  char& c = tampered_hash[tampered_hash.size() - 5];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(*VerifyPassword("correct horse", tampered_hash));

  std::string binary(std::string("pa\0ss", 5));
  EXPECT_TRUE(*VerifyPassword(binary, Hash(binary, salt, config)));
  EXPECT_FALSE(*VerifyPassword("pa", Hash(binary, salt, config)));
}

TEST(Password, Argon2idMalformedOrHostileEncodingsAreRefused) {
  const std::string salt = "c29tZXNhbHQ";  // "somesalt"
  const std::string hash = HashPart(kArgon2Vectors[2].encoded);
  const std::string head = "$argon2id$v=19$";
  ASSERT_TRUE(*VerifyPassword("password", head + "m=256,t=2,p=1$" + salt + "$" + hash));
  const std::vector<std::string> refused = {
      // Other variants and versions, and the optional fields of the PHC format.
      "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + hash,
      "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + hash,
      "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + hash,
      "$argon2id$m=256,t=2,p=1$" + salt + "$" + hash,
      "$ARGON2ID$v=19$m=256,t=2,p=1$" + salt + "$" + hash,
      head + "m=256,t=2,p=1,keyid=AAAA$" + salt + "$" + hash,
      head + "m=256,t=2,p=1,data=AAAA$" + salt + "$" + hash,
      // Fields out of order, missing, repeated, or not canonical decimal.
      head + "t=2,m=256,p=1$" + salt + "$" + hash, head + "m=256,p=1,t=2$" + salt + "$" + hash,
      head + "m=256,t=2$" + salt + "$" + hash, head + "m=256,t=2,p=1,p=1$" + salt + "$" + hash,
      head + "m=0256,t=2,p=1$" + salt + "$" + hash, head + "m=+256,t=2,p=1$" + salt + "$" + hash,
      head + "m=256,t=-2,p=1$" + salt + "$" + hash, head + "m=256,t=2,p=1 $" + salt + "$" + hash,
      head + "m=256,t=,p=1$" + salt + "$" + hash, head + "m= 256,t=2,p=1$" + salt + "$" + hash,
      // Hostile work factors, refused before any work. (Each is chosen so that, were its cap
      // removed, the test would fail within seconds rather than hang.)
      head + "m=4294967295,t=2,p=1$" + salt + "$" + hash,
      head + "m=262145,t=1,p=1$" + salt + "$" + hash,      // over 256 MiB
      head + "m=262144,t=5,p=1$" + salt + "$" + hash,      // 1.25 GiB of passes
      head + "m=8,t=4294967296,p=1$" + salt + "$" + hash,  // beyond 32 bits
      head + "m=65536,t=17,p=1$" + salt + "$" + hash,
      head + "m=1024,t=2,p=17$" + salt + "$" + hash,  // too many lanes
      head + "m=1024,t=2,p=0$" + salt + "$" + hash,
      head + "m=8,t=2,p=2$" + salt + "$" + hash,  // under 8 KiB per lane
      head + "m=256,t=0,p=1$" + salt + "$" + hash,
      // Salt and hash: padding, spare bits, the URL alphabet, wrong lengths, extra fields.
      head + "m=256,t=2,p=1$" + salt + "=$" + hash,
      head + "m=256,t=2,p=1$" + salt + "$" + hash + "=",
      head + "m=256,t=2,p=1$c29tZXNhbHR$" + hash,  // "somesalt" with spare bits set
      head + "m=256,t=2,p=1$" + salt + "$" + hash.substr(0, 20),
      head + "m=256,t=2,p=1$c29tZQ$" + hash,  // a 4-byte salt
      head + "m=256,t=2,p=1$$" + hash, head + "m=256,t=2,p=1$" + salt + "$",
      head + "m=256,t=2,p=1$" + salt, head + "m=256,t=2,p=1$" + salt + "$" + hash + "$",
      head + "m=256,t=2,p=1$" + salt + "$" + hash + "$" + hash,
      head + "m=256,t=2,p=1$" + salt + "$" + std::string(90, 'A'),  // 67 bytes
  };
  for (const std::string& m : refused) {
    auto r = VerifyPassword("password", m);
    EXPECT_FALSE(r.ok()) << m;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << m;
    EXPECT_TRUE(NeedsRehash(m, PasswordHashing::Argon2id())) << m;
  }
  // The URL-safe alphabet is not the PHC format's.
  std::string with_slash = HashPart(kArgon2Vectors[3].encoded);
  ASSERT_NE(with_slash.find('/'), std::string::npos);
  std::string url = with_slash;
  for (char& ch : url) ch = ch == '/' ? '_' : ch == '+' ? '-' : ch;
  EXPECT_FALSE(VerifyPassword("password", head + "m=256,t=2,p=2$" + salt + "$" + url).ok());
}

TEST(Password, Argon2idAtTheCapsIsAccepted) {
  // The caps are inclusive: the largest lane count, and m * t exactly at the work cap.
  std::string salt = "0123456789abcdef";
  EXPECT_TRUE(*VerifyPassword("pw", Hash("pw", salt, SmallArgon2(128, 1, kMaxArgon2Parallelism))));
  EXPECT_TRUE(PasswordHashing::Argon2id({kMaxArgon2MemoryKib, 4, 1}).Validate().ok());
  EXPECT_FALSE(PasswordHashing::Argon2id({kMaxArgon2MemoryKib, 5, 1}).Validate().ok());
  EXPECT_FALSE(PasswordHashing::Argon2id({kMaxArgon2MemoryKib + 1, 1, 1}).Validate().ok());
}

// The number of threads of this process, from /proc.
int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return -1;
}

TEST(Password, Argon2idLanesRunOnTheCallingThread) {
  // The CPU gate gives a hash one core: 16 lanes must not become 16 threads.
  std::atomic<bool> done{false};
  std::atomic<int> most{0};
  std::thread sampler([&] {
    while (!done.load()) {
      most.store(std::max(most.load(), ThreadCount()));
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  int before = ThreadCount();
  ASSERT_TRUE(HashPassword("pw", "0123456789abcdef", SmallArgon2(16384, 2, 16)).ok());
  done = true;
  sampler.join();
  EXPECT_EQ(most.load(), before) << "libargon2 started threads of its own";
}

TEST(Password, HashingRefusesConfigurationsOutsideTheCaps) {
  for (const PasswordHashing& bad :
       {PasswordHashing::Pbkdf2(0), PasswordHashing::Pbkdf2(-5),
        PasswordHashing::Pbkdf2(kMaxPbkdf2Iterations + 1), SmallArgon2(7, 1, 1),
        SmallArgon2(64, 0, 1), SmallArgon2(64, 1, 0), SmallArgon2(1024, 1, 17),
        SmallArgon2(kMaxArgon2MemoryKib * 2, 1, 1), SmallArgon2(1024, 1025, 1)}) {
    EXPECT_FALSE(bad.Validate().ok()) << bad.Describe();
    auto h = HashPassword("pw", "0123456789abcdef", bad);
    EXPECT_EQ(h.status().code(), Code::kInvalidArgument) << bad.Describe();
  }
  // libargon2 wants at least 8 bytes of salt; this module takes at most 64.
  EXPECT_FALSE(HashPassword("pw", "1234567", SmallArgon2()).ok());
  EXPECT_FALSE(HashPassword("pw", std::string(65, 's'), SmallArgon2()).ok());
  EXPECT_TRUE(HashPassword("pw", "12345678", SmallArgon2()).ok());
}

// --- Configuration and rehash decisions ---------------------------------------------------------

TEST(Password, DefaultsAreOwaspsAndParse) {
  PasswordHashing d;
  EXPECT_EQ(d.algorithm, PasswordAlgorithm::kPbkdf2Sha256);
  EXPECT_EQ(d.pbkdf2_iterations, 600000);
  EXPECT_EQ(kDefaultArgon2Params, (Argon2Params{19456, 2, 1}));
  EXPECT_TRUE(d.Validate().ok());
  EXPECT_TRUE(PasswordHashing::Argon2id().Validate().ok());
  EXPECT_EQ(d.Describe(), "pbkdf2-sha256 (i=600000)");
  EXPECT_EQ(PasswordHashing::Argon2id().Describe(), "argon2id (m=19456,t=2,p=1)");

  EXPECT_EQ(*ParsePasswordAlgorithm("argon2id"), PasswordAlgorithm::kArgon2id);
  EXPECT_EQ(*ParsePasswordAlgorithm("pbkdf2-sha256"), PasswordAlgorithm::kPbkdf2Sha256);
  for (const char* bad : {"", "Argon2id", "argon2i", "pbkdf2", "bcrypt"}) {
    EXPECT_FALSE(ParsePasswordAlgorithm(bad).ok()) << bad;
  }
  EXPECT_EQ(*ParseArgon2Params("m=19456,t=2,p=1"), (Argon2Params{19456, 2, 1}));
  EXPECT_EQ(*ParseArgon2Params("m=65536,t=3,p=4"), (Argon2Params{65536, 3, 4}));
  for (const char* bad : {"", "m=19456", "m=19456,t=2", "t=2,m=19456,p=1", "m=19456,t=2,p=1,",
                          "m=19456,t=2,p=1$", "m=019456,t=2,p=1", "m=1048576,t=1,p=1",
                          "m=19456,t=0,p=1", "m=19456,t=2,p=0", "m=19456, t=2, p=1"}) {
    EXPECT_FALSE(ParseArgon2Params(bad).ok()) << bad;
  }
}

TEST(Password, NeedsRehashDecisions) {
  const std::string salt = "0123456789abcdef";
  std::string pbkdf2 = Hash("pw", salt, PasswordHashing::Pbkdf2(1000));
  EXPECT_FALSE(NeedsRehash(pbkdf2, PasswordHashing::Pbkdf2(1000)));
  EXPECT_FALSE(NeedsRehash(pbkdf2, PasswordHashing::Pbkdf2(10))) << "stronger than configured";
  EXPECT_TRUE(NeedsRehash(pbkdf2, PasswordHashing::Pbkdf2(1001)));
  EXPECT_TRUE(NeedsRehash(pbkdf2, PasswordHashing::Pbkdf2(kDefaultPbkdf2Iterations)));
  EXPECT_TRUE(NeedsRehash(pbkdf2, SmallArgon2())) << "another algorithm";
  EXPECT_TRUE(NeedsRehash(Hash("pw", "short", PasswordHashing::Pbkdf2(1000)),
                          PasswordHashing::Pbkdf2(1000)))
      << "a salt under 16 bytes";

  std::string argon = Hash("pw", salt, SmallArgon2(64, 2, 1));
  EXPECT_FALSE(NeedsRehash(argon, SmallArgon2(64, 2, 1)));
  EXPECT_FALSE(NeedsRehash(argon, SmallArgon2(32, 1, 1))) << "stronger than configured";
  EXPECT_TRUE(NeedsRehash(argon, SmallArgon2(72, 2, 1))) << "less memory";
  EXPECT_TRUE(NeedsRehash(argon, SmallArgon2(64, 3, 1))) << "fewer passes";
  EXPECT_TRUE(NeedsRehash(argon, SmallArgon2(64, 2, 2))) << "another lane count";
  EXPECT_TRUE(NeedsRehash(argon, PasswordHashing::Pbkdf2(1))) << "another algorithm";
  EXPECT_TRUE(NeedsRehash(kArgon2Vectors[2].encoded, SmallArgon2(256, 2, 1)))
      << "an 8-byte salt is below what is written now";
}

}  // namespace
}  // namespace meridian::crypto
