#include "crypto/sealed.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "common/encoding.h"

namespace meridian::crypto {
namespace {

constexpr uint64_t kSeed = 20240611;

class SealedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::cout << "seed " << kSeed << std::endl;
    random_ = NewSeededRandom(kSeed);
    kek_.emplace(Kek::Generate(*random_));
  }
  std::string SealFor(const SealLabel& label, std::string_view plaintext) {
    return Seal(*kek_, label, plaintext, *random_);
  }

  std::unique_ptr<Random> random_;
  std::optional<Kek> kek_;
  const SealLabel label_{"signing-key", "global", "kid-1"};
};

TEST_F(SealedTest, RoundTripsAnyPlaintext) {
  for (std::string plaintext :
       {std::string(), std::string("x"), std::string(5000, 'p'), std::string("\0\x01\xff", 3)}) {
    std::string sealed = SealFor(label_, plaintext);
    EXPECT_EQ(sealed.size(), 1 + 8 + 12 + plaintext.size() + 16);
    EXPECT_EQ(sealed.find(plaintext.empty() ? "\x01\x02\x03" : plaintext), std::string::npos)
        << "the plaintext appears in the sealed value";
    auto opened = Open(*kek_, label_, sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST_F(SealedTest, EachSealDrawsAFreshNonceFromTheGivenRandom) {
  std::string a = SealFor(label_, "secret");
  std::string b = SealFor(label_, "secret");
  EXPECT_NE(a.substr(9, 12), b.substr(9, 12));
  EXPECT_NE(a, b);
  // The nonce is the injected Random's: the same seed seals to the same bytes.
  auto r1 = NewSeededRandom(7), r2 = NewSeededRandom(7);
  EXPECT_EQ(Seal(*kek_, label_, "secret", *r1), Seal(*kek_, label_, "secret", *r2));
}

TEST_F(SealedTest, AlteringAnyByteOrTheLengthFails) {
  std::string sealed = SealFor(label_, "the private key");
  for (size_t i = 0; i < sealed.size(); ++i) {
    for (unsigned char bit : {0x01, 0x80}) {
      std::string bad = sealed;
      bad[i] = static_cast<char>(bad[i] ^ bit);
      auto opened = Open(*kek_, label_, bad);
      ASSERT_FALSE(opened.ok()) << "byte " << i << " altered and still opened";
      Code want = i == 0  ? Code::kInvalidArgument     // the version
                  : i < 9 ? Code::kFailedPrecondition  // the KEK id
                          : Code::kUnauthenticated;    // nonce, ciphertext, tag
      EXPECT_EQ(opened.status().code(), want) << "byte " << i << ": " << opened.status().ToString();
    }
  }
  for (size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_FALSE(Open(*kek_, label_, sealed.substr(0, n)).ok()) << "cut to " << n << " bytes";
  }
  EXPECT_FALSE(Open(*kek_, label_, sealed + "x").ok());
}

TEST_F(SealedTest, AnotherKekFailsAndSaysWhichKekSealedIt) {
  std::string sealed = SealFor(label_, "secret");
  Kek other = Kek::Generate(*random_);
  auto opened = Open(other, label_, sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(opened.status().message().find(kek_->IdHex()), std::string::npos);
  EXPECT_NE(opened.status().message().find(other.IdHex()), std::string::npos);
  EXPECT_EQ(SealedKekId(sealed), kek_->IdHex());
  // Relabelled with the other KEK's id, it still does not open: the data key differs, and the
  // id is authenticated.
  std::string relabelled = sealed;
  std::string id_bytes;
  for (size_t i = 0; i < 16; i += 2) {
    id_bytes.push_back(static_cast<char>(std::stoi(other.IdHex().substr(i, 2), nullptr, 16)));
  }
  relabelled.replace(1, 8, id_bytes);
  EXPECT_EQ(SealedKekId(relabelled), other.IdHex());
  auto forged = Open(other, label_, relabelled);
  ASSERT_FALSE(forged.ok());
  EXPECT_EQ(forged.status().code(), Code::kUnauthenticated);
}

TEST_F(SealedTest, AnotherRecordPurposeOrScopeFails) {
  std::string sealed = SealFor(label_, "secret");
  for (SealLabel wrong :
       {SealLabel{"signing-key", "global", "kid-2"}, SealLabel{"signing-key", "global", ""},
        SealLabel{"totp-seed", "global", "kid-1"},
        SealLabel{"signing-key", "11111111-1111-4111-8111-111111111111", "kid-1"},
        // Fields are length-prefixed: moving bytes between them is another label.
        SealLabel{"signing-keyg", "lobal", "kid-1"}}) {
    auto opened = Open(*kek_, wrong, sealed);
    ASSERT_FALSE(opened.ok()) << wrong.purpose << "/" << wrong.scope << "/" << wrong.record;
    EXPECT_EQ(opened.status().code(), Code::kUnauthenticated);
  }
  // Two records' sealed values swapped: neither opens in the other's place.
  std::string other = SealFor({"signing-key", "global", "kid-2"}, "other secret");
  EXPECT_FALSE(Open(*kek_, label_, other).ok());
  EXPECT_FALSE(Open(*kek_, {"signing-key", "global", "kid-2"}, sealed).ok());
  EXPECT_TRUE(Open(*kek_, {"signing-key", "global", "kid-2"}, other).ok());
}

TEST_F(SealedTest, ForeignVersionsAndGarbageAreRefused) {
  EXPECT_EQ(Open(*kek_, label_, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Open(*kek_, label_, std::string(36, '\x01')).status().code(), Code::kInvalidArgument);
  std::string v2 = SealFor(label_, "secret");
  v2[0] = 2;
  EXPECT_EQ(Open(*kek_, label_, v2).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(SealedKekId(v2), std::nullopt);
  EXPECT_EQ(SealedKekId("short"), std::nullopt);
}

// The documented layout, opened without this module: HKDF through the EVP_PKEY interface and
// AES-256-GCM by hand. A change of the format (which would strand every sealed value stored)
// fails here.
TEST_F(SealedTest, OpensWithTheDocumentedLayoutAndDerivation) {
  std::string plaintext = "-----BEGIN NOTHING-----";
  std::string sealed = SealFor(label_, plaintext);
  std::string kek = *Base64UrlDecode(kek_->ToText());

  auto field = [](std::string_view s) {
    std::string out;
    PutBigEndian64(&out, s.size());
    return out + std::string(s);
  };
  std::string info = "meridian sealed v1" + field("signing-key") + field("global");
  unsigned char key[32];
  size_t key_len = sizeof(key);
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr);
  ASSERT_EQ(EVP_PKEY_derive_init(pctx), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()), 1);
  ASSERT_EQ(EVP_PKEY_CTX_set1_hkdf_key(pctx, reinterpret_cast<const unsigned char*>(kek.data()),
                                       static_cast<int>(kek.size())),
            1);
  ASSERT_EQ(EVP_PKEY_CTX_add1_hkdf_info(pctx, reinterpret_cast<const unsigned char*>(info.data()),
                                        static_cast<int>(info.size())),
            1);
  ASSERT_EQ(EVP_PKEY_derive(pctx, key, &key_len), 1);
  EVP_PKEY_CTX_free(pctx);

  ASSERT_EQ(static_cast<unsigned char>(sealed[0]), 1);
  std::string header = sealed.substr(0, 21);
  std::string nonce = sealed.substr(9, 12);
  std::string body = sealed.substr(21, sealed.size() - 21 - 16);
  std::string tag = sealed.substr(sealed.size() - 16);
  std::string ad = header + field("kid-1");
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  std::string out(body.size(), '\0');
  int len = 0;
  ASSERT_EQ(EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), nullptr, key,
                               reinterpret_cast<const unsigned char*>(nonce.data())),
            1);
  ASSERT_EQ(EVP_DecryptUpdate(c, nullptr, &len, reinterpret_cast<const unsigned char*>(ad.data()),
                              static_cast<int>(ad.size())),
            1);
  ASSERT_EQ(EVP_DecryptUpdate(c, reinterpret_cast<unsigned char*>(out.data()), &len,
                              reinterpret_cast<const unsigned char*>(body.data()),
                              static_cast<int>(body.size())),
            1);
  ASSERT_EQ(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag.data()), 1);
  int final_len = 0;
  EXPECT_EQ(EVP_DecryptFinal_ex(c, reinterpret_cast<unsigned char*>(out.data()) + len, &final_len),
            1);
  EVP_CIPHER_CTX_free(c);
  EXPECT_EQ(out, plaintext);
  // The id is the documented truncated HMAC.
  EXPECT_EQ(kek_->IdHex().size(), 16u);
  EXPECT_EQ(HexEncode(header.substr(1, 8)), kek_->IdHex());
}

TEST(Kek, TextRoundTripsAndIsStrict) {
  auto random = NewSeededRandom(kSeed);
  Kek kek = Kek::Generate(*random);
  std::string text = kek.ToText();
  EXPECT_EQ(text.size(), 43u);
  for (std::string variant : {text, text + "\n", "  " + text + "\r\n", text + "="}) {
    auto parsed = Kek::FromText(variant);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->IdHex(), kek.IdHex());
    EXPECT_EQ(parsed->ToText(), text);
  }
  EXPECT_NE(Kek::Generate(*random).IdHex(), kek.IdHex());
  std::string short_text = Base64UrlEncode(std::string(31, 'k'));
  std::string long_text = Base64UrlEncode(std::string(33, 'k'));
  for (const std::string& bad :
       {std::string(), short_text, long_text, text.substr(1), "!" + text.substr(1),
        text.substr(0, 20) + " " + text.substr(20)}) {
    auto parsed = Kek::FromText(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), Code::kInvalidArgument);
    if (bad.size() > 8) {
      EXPECT_EQ(parsed.status().message().find(bad.substr(2, 8)), std::string::npos)
          << "the message quotes the key";
    }
  }
}

}  // namespace
}  // namespace meridian::crypto
