#include "crypto/tls_cert.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "crypto/internal/openssl_util.h"

namespace meridian::crypto {
namespace {

using internal::OpenSslDeleter;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpenSslDeleter<GENERAL_NAMES_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, OpenSslDeleter<GENERAL_NAME_free>>;
using ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpenSslDeleter<X509_EXTENSION_free>>;

constexpr char kCommonName[] = "meridian development certificate";

// Letters, digits, '-' and '.', at most 253 characters, with an optional leading "*." wildcard.
bool IsHostName(std::string_view name) {
  if (name.size() > 2 && name.substr(0, 2) == "*.") name.remove_prefix(2);
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// The subjectAltName entries, built as ASN.1 values rather than through OpenSSL's configuration
// syntax, so that a name containing ',' or ':' cannot add entries of its own.
Result<GeneralNamesPtr> SubjectAltNames(const std::vector<std::string>& dns_names,
                                        const std::vector<std::string>& ip_addresses) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) internal::OpenSslFatal("sk_GENERAL_NAME_new_null");
  auto push = [&](GeneralNamePtr gn) {
    if (sk_GENERAL_NAME_push(names.get(), gn.get()) <= 0) internal::OpenSslFatal("SAN push");
    gn.release();  // now owned by `names`
  };
  for (const std::string& dns : dns_names) {
    if (!IsHostName(dns)) return InvalidArgument("'" + dns + "' is not a DNS host name");
    GeneralNamePtr gn(GENERAL_NAME_new());
    ASN1_IA5STRING* s = ASN1_IA5STRING_new();
    if (!gn || !s || ASN1_STRING_set(s, dns.data(), static_cast<int>(dns.size())) != 1) {
      internal::OpenSslFatal("GENERAL_NAME(DNS)");
    }
    GENERAL_NAME_set0_value(gn.get(), GEN_DNS, s);
    push(std::move(gn));
  }
  for (const std::string& ip : ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (!octets) {
      internal::OpenSslErrors();
      return InvalidArgument("'" + ip + "' is not an IP address");
    }
    GeneralNamePtr gn(GENERAL_NAME_new());
    if (!gn) internal::OpenSslFatal("GENERAL_NAME(IP)");
    GENERAL_NAME_set0_value(gn.get(), GEN_IPADD, octets);
    push(std::move(gn));
  }
  return names;
}

// Adds an extension written in OpenSSL's configuration syntax; for fixed values only.
bool AddConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool AddNameEntry(X509_NAME* name, const char* field, const char* value) {
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                    reinterpret_cast<const unsigned char*>(value), -1, -1, 0) == 1;
}

// A positive 127-bit serial from OpenSSL's CSPRNG (RFC 5280: positive, at most 20 octets).
bool SetRandomSerial(X509* cert) {
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return false;
  serial[0] &= 0x7f;
  serial[0] |= 0x01;  // never zero, never shortened to fewer octets
  internal::BignumPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  return bn && BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr;
}

std::string CertificatePem(X509* cert) {
  internal::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    internal::OpenSslFatal("PEM_write_bio_X509");
  }
  return internal::BioContents(bio.get());
}

// The issuer's certificate and key, checked to belong together and to be a CA.
struct Issuer {
  internal::X509Ptr cert;
  internal::OwnedPkey key;
};

Result<Issuer> ParseIssuer(const CertificateAndKey& pem) {
  Issuer issuer;
  internal::BioPtr cert_bio = internal::MemoryBio(pem.cert_pem);
  if (cert_bio) issuer.cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  // An empty passphrase callback: an encrypted key fails at once instead of prompting.
  auto no_passphrase = [](char*, int, int, void*) { return 0; };
  internal::BioPtr key_bio = internal::MemoryBio(pem.key_pem);
  if (key_bio) {
    issuer.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr));
  }
  if (!issuer.cert || !issuer.key) {
    return InvalidArgument("the issuer's certificate or key does not parse: " +
                           internal::OpenSslErrors());
  }
  if (X509_check_private_key(issuer.cert.get(), issuer.key.get()) != 1) {
    internal::OpenSslErrors();
    return InvalidArgument("the issuer's key does not belong to its certificate");
  }
  if (X509_check_ca(issuer.cert.get()) == 0) {
    return InvalidArgument("the issuer's certificate is not a CA");
  }
  return issuer;
}

// The basicConstraints, keyUsage and extendedKeyUsage values of each use.
struct UseExtensions {
  const char* basic_constraints;
  const char* key_usage;
  const char* ext_key_usage;  // null: none
};

UseExtensions ExtensionsFor(CertificateProfile::Use use) {
  switch (use) {
    case CertificateProfile::Use::kTlsServer:
      return {"critical,CA:FALSE", "critical,digitalSignature", "serverAuth"};
    case CertificateProfile::Use::kTlsPeer:
      return {"critical,CA:FALSE", "critical,digitalSignature", "serverAuth,clientAuth"};
    case CertificateProfile::Use::kCertificateAuthority:
      return {"critical,CA:TRUE", "critical,keyCertSign,cRLSign", nullptr};
  }
  internal::OpenSslFatal("unknown certificate use");
}

}  // namespace

Result<CertificateAndKey> IssueCertificate(const CertificateProfile& profile,
                                           const CertificateAndKey* issuer_pem) {
  if (profile.days < 1 || profile.days > 3650) {
    return InvalidArgument("certificate validity must be 1 to 3650 days");
  }
  bool is_ca = profile.use == CertificateProfile::Use::kCertificateAuthority;
  if (!is_ca && profile.dns_names.empty() && profile.ip_addresses.empty()) {
    return InvalidArgument("a certificate needs at least one DNS name or IP address");
  }
  MERIDIAN_ASSIGN_OR_RETURN(GeneralNamesPtr san,
                            SubjectAltNames(profile.dns_names, profile.ip_addresses));
  std::optional<Issuer> issuer;
  if (issuer_pem != nullptr) {
    MERIDIAN_ASSIGN_OR_RETURN(issuer, ParseIssuer(*issuer_pem));
  }

  internal::OwnedPkey key(EVP_EC_gen("P-256"));
  if (!key) return Internal("EC key generation failed: " + internal::OpenSslErrors());
  internal::X509Ptr cert(X509_new());
  if (!cert) internal::OpenSslFatal("X509_new");
  X509* issuer_cert = issuer ? issuer->cert.get() : cert.get();
  EVP_PKEY* signing_key = issuer ? issuer->key.get() : key.get();

  X509_NAME* name = X509_get_subject_name(cert.get());
  bool ok = X509_set_version(cert.get(), X509_VERSION_3) == 1 && SetRandomSerial(cert.get()) &&
            X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
            X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                            static_cast<long>(profile.days) * 86400) != nullptr &&
            X509_set_pubkey(cert.get(), key.get()) == 1 && AddNameEntry(name, "O", "Meridian") &&
            AddNameEntry(name, "CN", profile.common_name.c_str()) &&
            X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) == 1;
  if (ok && sk_GENERAL_NAME_num(san.get()) > 0) {
    ok = X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, san.get(), 0, X509V3_ADD_DEFAULT) == 1;
  }
  if (ok) {
    UseExtensions ext = ExtensionsFor(profile.use);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer_cert, cert.get(), nullptr, nullptr, 0);
    ok = AddConfExtension(cert.get(), &v3, NID_basic_constraints, ext.basic_constraints) &&
         AddConfExtension(cert.get(), &v3, NID_key_usage, ext.key_usage) &&
         (ext.ext_key_usage == nullptr ||
          AddConfExtension(cert.get(), &v3, NID_ext_key_usage, ext.ext_key_usage)) &&
         AddConfExtension(cert.get(), &v3, NID_subject_key_identifier, "hash") &&
         (!issuer ||
          AddConfExtension(cert.get(), &v3, NID_authority_key_identifier, "keyid:always")) &&
         X509_sign(cert.get(), signing_key, internal::Sha256Md()) > 0;
  }
  if (!ok) return Internal("certificate generation failed: " + internal::OpenSslErrors());

  CertificateAndKey out;
  out.cert_pem = CertificatePem(cert.get());
  out.key_pem = internal::PrivateKeyPem(key.get());
  return out;
}

Status CheckIssuer(const CertificateAndKey& issuer) { return ParseIssuer(issuer).status(); }

Result<CertificateAndKey> GenerateSelfSignedCertificate(
    const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses,
    int days) {
  CertificateProfile profile;
  profile.common_name = kCommonName;
  profile.dns_names = dns_names;
  profile.ip_addresses = ip_addresses;
  profile.days = days;
  return IssueCertificate(profile, nullptr);
}

Status WritePrivateFile(const std::string& path, std::string_view contents) {
  auto fail = [&path](const char* what, int err) {
    return Internal(std::string("cannot ") + what + " " + path + ": " + std::strerror(err));
  };
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create", errno);
  // The mode given to open applies only to a new file (and is narrowed by the umask); an
  // existing file keeps its mode, so set it explicitly before writing the secret.
  if (fchmod(fd, 0600) != 0) {
    int err = errno;
    close(fd);
    return fail("chmod", err);
  }
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : EIO;
      close(fd);
      return fail("write", err);
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    int err = errno;
    close(fd);
    return fail("sync", err);
  }
  if (close(fd) != 0) return fail("close", errno);
  return Status::Ok();
}

}  // namespace meridian::crypto
