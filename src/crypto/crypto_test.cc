#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <filesystem>

#include "common/encoding.h"
#include "crypto/jwt.h"
#include "crypto/password.h"
#include "crypto/secret.h"
#include "crypto/sha.h"
#include "crypto/tls_cert.h"

namespace meridian::crypto {
namespace {
namespace json = boost::json;

TEST(Password, RoundTripAndTamper) {
  std::string h = HashPassword("correct horse", "0123456789abcdef", 1000);
  EXPECT_TRUE(StartsWith(h, "$pbkdf2-sha256$i=1000$"));
  EXPECT_TRUE(*VerifyPassword("correct horse", h));
  EXPECT_FALSE(*VerifyPassword("correct horsE", h));
  std::string tampered = h;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(*VerifyPassword("correct horse", tampered));
  EXPECT_FALSE(VerifyPassword("x", "$pbkdf2-sha256$i=abc$x$y").ok());
  EXPECT_FALSE(VerifyPassword("x", "plaintext").ok());
  EXPECT_TRUE(NeedsRehash(h, 600000));
  EXPECT_FALSE(NeedsRehash(h, 1000));
  EXPECT_EQ(h, HashPassword("correct horse", "0123456789abcdef", 1000)) << "deterministic";
}

TEST(Secret, HashedAndVerified) {
  auto r = NewSeededRandom(1);
  std::string s = GenerateClientSecret(*r);
  EXPECT_EQ(s.size(), 40u);
  std::string stored = HashClientSecret(s);
  EXPECT_TRUE(VerifyClientSecret(s, stored));
  EXPECT_FALSE(VerifyClientSecret(s + "x", stored));
  EXPECT_FALSE(VerifyClientSecret(s, "md5$abc"));
  EXPECT_EQ(SecretHint(s), s.substr(0, 3));
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new SigningKey(std::move(SigningKey::GenerateRsa2048()).value());
    other_ = new SigningKey(std::move(SigningKey::GenerateRsa2048()).value());
  }
  static void TearDownTestSuite() {
    delete key_;
    delete other_;
  }
  JwtVerifier Verifier() { return std::move(JwtVerifier::FromJwks(Jwks({key_}))).value(); }
  static SigningKey* key_;
  static SigningKey* other_;
};
SigningKey* JwtTest::key_ = nullptr;
SigningKey* JwtTest::other_ = nullptr;

TEST_F(JwtTest, SignsAndVerifiesThroughPublicJwk) {
  json::object claims{{"sub", "x"}, {"exp", 100}};
  auto token = SignJwt(*key_, claims);
  ASSERT_TRUE(token.ok());
  auto verified = Verifier().Verify(*token);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_EQ(verified->at("sub").as_string(), "x");
  auto again = SigningKey::FromPrivatePem(key_->PrivatePem());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->kid(), key_->kid()) << "the thumbprint is stable";
}

TEST_F(JwtTest, RejectsTamperingAndAlgorithmTricks) {
  std::string token = *SignJwt(*key_, {{"sub", "x"}});
  auto v = Verifier();
  size_t d1 = token.find('.'), d2 = token.rfind('.');
  std::string header = token.substr(0, d1), payload = token.substr(d1 + 1, d2 - d1 - 1),
              sig = token.substr(d2 + 1);
  std::string evil = Base64UrlEncode(R"({"sub":"admin"})");
  EXPECT_FALSE(v.Verify(header + "." + evil + "." + sig).ok());
  std::string bad_sig = sig;
  bad_sig[5] = bad_sig[5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(v.Verify(header + "." + payload + "." + bad_sig).ok());
  std::string none = Base64UrlEncode(R"({"alg":"none","typ":"JWT"})");
  auto r = v.Verify(none + "." + payload + ".");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("none"), std::string::npos);
  // HS256 keyed with the public key must not verify (algorithm confusion).
  std::string hs_header =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":")" + key_->kid() + "\"}");
  std::string mac = HmacSha256(json::serialize(key_->PublicJwk()), hs_header + "." + payload);
  EXPECT_FALSE(v.Verify(hs_header + "." + payload + "." + Base64UrlEncode(mac)).ok());
  EXPECT_FALSE(v.Verify(*SignJwt(*other_, {{"sub", "x"}})).ok()) << "unknown kid";
  EXPECT_FALSE(v.Verify(header + "." + payload).ok());
  EXPECT_FALSE(v.Verify("a.b.c").ok());
  EXPECT_FALSE(v.Verify("").ok());
  EXPECT_FALSE(v.Verify(header + "." + payload + "." + sig + ".").ok());
}

TEST(TimeClaims, ExpiryAndNotBefore) {
  EXPECT_TRUE(CheckTimeClaims({{"exp", 1000}}, 900, 0).ok());
  EXPECT_FALSE(CheckTimeClaims({{"exp", 1000}}, 1000, 0).ok());
  EXPECT_TRUE(CheckTimeClaims({{"exp", 1000}}, 1200, 300).ok());
  EXPECT_FALSE(CheckTimeClaims({{"nbf", 1000}}, 0, 0).ok()) << "exp is required";
  EXPECT_FALSE(CheckTimeClaims({{"exp", 5000}, {"nbf", 2000}}, 1000, 300).ok());
  EXPECT_FALSE(CheckTimeClaims({{"exp", "soon"}}, 0, 0).ok());
}

TEST(Certificate, SelfSignedWithSubjectAltNames) {
  auto c = GenerateSelfSignedCertificate({"localhost"}, {"127.0.0.1"}, 30);
  ASSERT_TRUE(c.ok());
  BIO* bio = BIO_new_mem_buf(c->cert_pem.data(), static_cast<int>(c->cert_pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_host(cert, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
  EXPECT_NE(X509_check_host(cert, "example.com", 0, 0, nullptr), 1);
  X509_free(cert);
}

TEST(PrivateFile, IsOwnerOnly) {
  auto path = (std::filesystem::temp_directory_path() / "meridian-private-test").string();
  ASSERT_TRUE(WritePrivateFile(path, "secret").ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace meridian::crypto
