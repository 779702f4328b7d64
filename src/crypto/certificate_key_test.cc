#include "crypto/certificate_key.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "crypto/testing/jws.h"

namespace meridian::crypto {
namespace {

namespace json = boost::json;
using testing::EcCertificate;
using testing::RsaCertificate;
using testing::SignJws;
using testing::Thumbprint;

const json::object kPayload{{"iss", "client"}, {"sub", "client"}, {"jti", "1"}};

class CertificateKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rsa_ = std::make_unique<testing::TestCertificate>(RsaCertificate());
    ec_ = std::make_unique<testing::TestCertificate>(EcCertificate());
    rsa_key_ = std::make_unique<CertificateKey>(std::move(CertificateKey::FromDer(rsa_->der)).value());
    ec_key_ = std::make_unique<CertificateKey>(std::move(CertificateKey::FromDer(ec_->der)).value());
  }
  Result<json::object> Verify(const std::string& token) {
    return VerifyWithCertificates(token, {rsa_key_.get(), ec_key_.get()});
  }
  json::object Header(std::string_view alg, const testing::TestCertificate& c, bool s256 = false) {
    json::object h{{"alg", alg}, {"typ", "JWT"}};
    if (s256) {
      h["x5t#S256"] = Thumbprint(c.der, EVP_sha256());
    } else {
      h["x5t"] = Thumbprint(c.der, EVP_sha1());
    }
    return h;
  }

  std::unique_ptr<testing::TestCertificate> rsa_, ec_;
  std::unique_ptr<CertificateKey> rsa_key_, ec_key_;
};

TEST_F(CertificateKeyTest, ThumbprintsAreTheDigestsOfTheDer) {
  EXPECT_EQ(rsa_key_->x5t(), Thumbprint(rsa_->der, EVP_sha1()));
  EXPECT_EQ(rsa_key_->x5t_s256(), Thumbprint(rsa_->der, EVP_sha256()));
  EXPECT_EQ(rsa_key_->x5t().size(), 27u);
  EXPECT_TRUE(rsa_key_->is_rsa());
  EXPECT_FALSE(ec_key_->is_rsa());
}

TEST_F(CertificateKeyTest, EachAlgorithmVerifiesWithTheNamedCertificate) {
  for (std::string_view alg : {"RS256", "PS256"}) {
    for (bool s256 : {false, true}) {
      auto r = Verify(SignJws(Header(alg, *rsa_, s256), kPayload, rsa_->key, alg));
      ASSERT_TRUE(r.ok()) << alg << " " << r.status().ToString();
      EXPECT_EQ(r->at("sub"), "client");
    }
  }
  auto r = Verify(SignJws(Header("ES256", *ec_), kPayload, ec_->key, "ES256"));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  // python's MSAL pads x5t with "=", as Entra accepts; a thumbprint padded otherwise is not one.
  json::object padded = Header("RS256", *rsa_);
  padded["x5t"] = std::string(padded["x5t"].as_string()) + "=";
  EXPECT_TRUE(Verify(SignJws(padded, kPayload, rsa_->key, "RS256")).ok());
  padded["x5t"] = std::string(padded["x5t"].as_string()) + "==";
  EXPECT_FALSE(Verify(SignJws(padded, kPayload, rsa_->key, "RS256")).ok());
}

TEST_F(CertificateKeyTest, ForgeriesAndMismatchesFail) {
  auto fails = [&](const std::string& token, std::string_view why) {
    auto r = Verify(token);
    EXPECT_FALSE(r.ok()) << why;
    if (!r.ok()) EXPECT_EQ(r.status().code(), Code::kUnauthenticated) << why;
  };
  std::string good = SignJws(Header("RS256", *rsa_), kPayload, rsa_->key, "RS256");
  // A tampered payload.
  std::string tampered = good;
  size_t d1 = tampered.find('.');
  tampered.replace(d1 + 1, tampered.find('.', d1 + 1) - d1 - 1,
                   Base64UrlEncode(R"({"iss":"client","sub":"admin","jti":"1"})"));
  fails(tampered, "tampered payload");
  // Signed by another key while naming this certificate.
  auto other = RsaCertificate();
  fails(SignJws(Header("RS256", *rsa_), kPayload, other.key, "RS256"), "another key");
  // A certificate not registered.
  fails(SignJws(Header("RS256", other), kPayload, other.key, "RS256"), "unregistered");
  // No thumbprint at all, only a kid.
  fails(SignJws({{"alg", "RS256"}, {"kid", rsa_key_->x5t()}}, kPayload, rsa_->key, "RS256"),
        "no x5t");
  // alg none, and HS256 keyed with the certificate (the public part an attacker has).
  fails(SignJws(Header("none", *rsa_), kPayload, rsa_->key, "none"), "none");
  json::object hs = Header("HS256", *rsa_);
  std::string input = Base64UrlEncode(json::serialize(hs)) + "." +
                      Base64UrlEncode(json::serialize(kPayload));
  unsigned char mac[32];
  unsigned int n = 0;
  HMAC(EVP_sha256(), rsa_->der.data(), static_cast<int>(rsa_->der.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n);
  fails(input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), n)), "HS256");
  // An RSA algorithm on the EC certificate, and ES256 on the RSA one.
  fails(SignJws(Header("RS256", *ec_), kPayload, rsa_->key, "RS256"), "RS256 on EC");
  fails(SignJws(Header("ES256", *rsa_), kPayload, ec_->key, "ES256"), "ES256 on RSA");
  // Non-canonical base64url (padding) and extra segments.
  fails(good + "=", "padding");
  fails(good + ".x", "four segments");
  // Critical headers.
  json::object crit = Header("RS256", *rsa_);
  crit["crit"] = json::array{"exp"};
  fails(SignJws(crit, kPayload, rsa_->key, "RS256"), "crit");
}

TEST_F(CertificateKeyTest, OnlyCertificatesOfAcceptedKeysParse) {
  EXPECT_FALSE(CertificateKey::FromDer("not a certificate").ok());
  EXPECT_FALSE(CertificateKey::FromDer(rsa_->der + "x").ok());  // trailing bytes
  EXPECT_FALSE(CertificateKey::FromDer(rsa_->der.substr(0, rsa_->der.size() - 1)).ok());
  auto small = RsaCertificate(1024);
  EXPECT_FALSE(CertificateKey::FromDer(small.der).ok());
}

}  // namespace
}  // namespace meridian::crypto
