#include "rpc/cluster_certs.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/testing/files.h"
#include "common/testing/temp_dir.h"

namespace meridian::rpc {
namespace {

using testing::ModeOf;
using testing::ReadAll;
using testing::TempDir;

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

X509Ptr ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509Ptr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

int ValidityDays(X509* cert) {
  int days = 0, seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
            1);
  return days;
}

// X509_verify_cert of `leaf` against `ca` alone, for the given purpose.
bool Verifies(X509* leaf, X509* ca, int purpose) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, nullptr);
  X509_STORE_CTX_set_purpose(ctx, purpose);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

TEST(ClusterCa, IsACriticalCaWithItsKeyOwnerOnly) {
  TempDir dir;
  auto ca = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  EXPECT_TRUE(ca->created);
  EXPECT_EQ(ReadAll(dir.File("ca.pem")), ca->ca.cert_pem);
  EXPECT_EQ(ReadAll(dir.File("ca.key")), ca->ca.key_pem);
  EXPECT_EQ(ModeOf(dir.File("ca.key")), 0600u);

  X509Ptr cert = ParseCert(ca->ca.cert_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  int critical = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &critical, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_NE(bc->ca, 0);
  EXPECT_EQ(critical, 1);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(ValidityDays(cert.get()), 3650);
  EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(cert.get()), "EC"));
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(cert.get())), 256);
  EXPECT_EQ(X509_verify(cert.get(), X509_get0_pubkey(cert.get())), 1) << "self-signed";
}

TEST(ClusterCa, AnExistingCaIsReusedNotReplaced) {
  TempDir dir;
  auto first = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(first.ok());
  auto second = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->ca.cert_pem, first->ca.cert_pem);
  EXPECT_EQ(second->ca.key_pem, first->ca.key_pem);
  EXPECT_EQ(ReadAll(dir.File("ca.pem")), first->ca.cert_pem);
}

TEST(ClusterCa, HalfACaIsRefusedAndLeftAlone) {
  TempDir dir;
  auto first = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(first.ok());
  std::filesystem::remove(dir.File("ca.key"));
  EXPECT_EQ(LoadOrCreateClusterCa(dir.path()).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(ReadAll(dir.File("ca.pem")), first->ca.cert_pem);
  EXPECT_FALSE(std::filesystem::exists(dir.File("ca.key")));
}

TEST(ClusterCa, AMismatchedKeyIsRefused) {
  TempDir dir, other;
  ASSERT_TRUE(LoadOrCreateClusterCa(dir.path()).ok());
  ASSERT_TRUE(LoadOrCreateClusterCa(other.path()).ok());
  std::filesystem::copy_file(other.File("ca.key"), dir.File("ca.key"),
                             std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(LoadOrCreateClusterCa(dir.path()).status().code(), Code::kInvalidArgument);
}

TEST(NodeCertificate, VerifiesAgainstTheCaForServerAndClient) {
  TempDir dir;
  auto ca = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(ca.ok());
  auto node = IssueNodeCertificate(ca->ca, "node-1", {"db1.meridian.test", "10.0.0.7", "::1"});
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  X509Ptr ca_cert = ParseCert(ca->ca.cert_pem);
  X509Ptr cert = ParseCert(node->cert_pem);
  ASSERT_NE(cert, nullptr);

  EXPECT_TRUE(Verifies(cert.get(), ca_cert.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_TRUE(Verifies(cert.get(), ca_cert.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert.get())),
            0);
  int days = ValidityDays(cert.get());
  EXPECT_GE(days, 700);
  EXPECT_LE(days, 800);

  for (const char* host : {"node-1", "db1.meridian.test", "localhost"}) {
    EXPECT_EQ(X509_check_host(cert.get(), host, 0, 0, nullptr), 1) << host;
  }
  for (const char* ip : {"10.0.0.7", "::1", "127.0.0.1"}) {
    EXPECT_EQ(X509_check_ip_asc(cert.get(), ip, 0), 1) << ip;
  }
  EXPECT_NE(X509_check_host(cert.get(), "node-2", 0, 0, nullptr), 1);

  auto again = IssueNodeCertificate(ca->ca, "node-1", {});
  ASSERT_TRUE(again.ok());
  X509Ptr again_cert = ParseCert(again->cert_pem);
  EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(cert.get()),
                             X509_get0_serialNumber(again_cert.get())),
            0)
      << "random serials";
  EXPECT_NE(again->key_pem, node->key_pem);
}

TEST(NodeCertificate, FromAnotherCaDoesNotVerify) {
  TempDir dir, other;
  auto ca = LoadOrCreateClusterCa(dir.path());
  auto other_ca = LoadOrCreateClusterCa(other.path());
  ASSERT_TRUE(ca.ok() && other_ca.ok());
  auto node = IssueNodeCertificate(other_ca->ca, "node-1", {});
  ASSERT_TRUE(node.ok());
  X509Ptr ca_cert = ParseCert(ca->ca.cert_pem);
  X509Ptr cert = ParseCert(node->cert_pem);
  EXPECT_FALSE(Verifies(cert.get(), ca_cert.get(), X509_PURPOSE_SSL_CLIENT));
}

TEST(NodeCertificate, RefusesIdsThatCannotBeNodes) {
  TempDir dir;
  auto ca = LoadOrCreateClusterCa(dir.path());
  ASSERT_TRUE(ca.ok());
  for (const char* id : {"", "ca", "*.nodes.test", "a/b", "../x", "has space", "a,DNS:evil"}) {
    EXPECT_EQ(IssueNodeCertificate(ca->ca, id, {}).status().code(), Code::kInvalidArgument) << id;
  }
  EXPECT_EQ(IssueNodeCertificate(ca->ca, "node-1", {"bad host"}).status().code(),
            Code::kInvalidArgument);
  // A node certificate cannot issue others.
  auto node = IssueNodeCertificate(ca->ca, "node-1", {});
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(IssueNodeCertificate(*node, "node-2", {}).status().code(), Code::kInvalidArgument);
}

TEST(ClusterCertificates, WritesNodesAndAddsMoreUnderTheSameCa) {
  TempDir dir;
  std::string out = dir.File("certs");
  auto lines = MakeClusterCertificates(out, {"node-1", "node-2"}, {"10.0.0.1"});
  ASSERT_TRUE(lines.ok()) << lines.status().ToString();
  EXPECT_EQ(lines->size(), 3u);
  std::string ca_pem = ReadAll(out + "/ca.pem");
  for (const char* node : {"node-1", "node-2"}) {
    EXPECT_EQ(ModeOf(out + "/" + node + ".key"), 0600u);
    auto creds = LoadNodeCredentials(out, node);
    ASSERT_TRUE(creds.ok()) << creds.status().ToString();
    EXPECT_EQ(creds->ca_pem, ca_pem);
  }

  // Later: one more node, under the CA already there.
  auto more = MakeClusterCertificates(out, {"node-3"}, {});
  ASSERT_TRUE(more.ok()) << more.status().ToString();
  EXPECT_NE((*more)[0].find("reused"), std::string::npos);
  EXPECT_EQ(ReadAll(out + "/ca.pem"), ca_pem);
  X509Ptr ca_cert = ParseCert(ca_pem);
  for (const char* node : {"node-1", "node-3"}) {
    X509Ptr cert = ParseCert(ReadAll(out + "/" + node + ".pem"));
    ASSERT_NE(cert, nullptr);
    EXPECT_TRUE(Verifies(cert.get(), ca_cert.get(), X509_PURPOSE_SSL_SERVER)) << node;
  }

  EXPECT_EQ(LoadNodeCredentials(out, "node-9").status().code(), Code::kNotFound);
  EXPECT_EQ(MakeClusterCertificates(out, {"node-4", "ca"}, {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(out + "/node-4.pem")) << "ids are checked first";
}

}  // namespace
}  // namespace meridian::rpc
