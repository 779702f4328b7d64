// X.509 certificates for new EC keys: self-signed development certificates (for `meridian serve`
// without a real certificate) and certificates issued by a CA of our own (the cluster CA of
// rpc/cluster_certs.h), and owner-only files for private keys and bootstrap credentials.
// Stateless functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::crypto {

struct CertificateAndKey {
  std::string cert_pem;  // "BEGIN CERTIFICATE"
  std::string key_pem;   // unencrypted PKCS#8 "BEGIN PRIVATE KEY"; secret
};

// What a new certificate says about its subject and what it may be used for.
struct CertificateProfile {
  enum class Use {
    kTlsServer,             // CA:FALSE, key usage digitalSignature, EKU serverAuth
    kTlsPeer,               // CA:FALSE, key usage digitalSignature, EKU serverAuth + clientAuth
    kCertificateAuthority,  // critical CA:TRUE, critical key usage keyCertSign + cRLSign
  };
  std::string common_name;                // subject "O=Meridian, CN=<common_name>"
  std::vector<std::string> dns_names;     // subjectAltName DNS entries, e.g. "localhost"
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, e.g. "127.0.0.1", "::1"
  int days = 0;                           // valid from an hour ago for this many days
  Use use = Use::kTlsServer;
};

// An X.509 v3 certificate for a new ECDSA P-256 key, described by `profile`, with a random
// 127-bit serial and a subject key identifier. Signed by `issuer` (a certificate that is a CA, and
// its key, both PEM), or self-signed when `issuer` is null; an issued certificate names the
// issuer's subject and key identifier. InvalidArgument when a TLS certificate has no name at all,
// a DNS name is not a host name (letters, digits, '-', '.', a leading "*."), an IP address does
// not parse, `days` is outside [1, 3650], the issuer's certificate or key does not parse, the key
// is not the certificate's, or the certificate is not a CA; Internal if OpenSSL fails.
Result<CertificateAndKey> IssueCertificate(const CertificateProfile& profile,
                                           const CertificateAndKey* issuer);

// Checks that `issuer` can issue certificates: its certificate and key parse, belong together,
// and the certificate is a CA. InvalidArgument otherwise.
Status CheckIssuer(const CertificateAndKey& issuer);

// A self-signed kTlsServer certificate with common name "meridian development certificate"
// (IssueCertificate with no issuer; the same failures).
Result<CertificateAndKey> GenerateSelfSignedCertificate(
    const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses,
    int days);

// Writes `contents` to `path` and syncs it. The file is created or truncated with mode 0600, and
// set to 0600 (fchmod) before anything is written even if it existed with a wider mode. Internal,
// with the path and errno text, if it cannot be opened, written or synced.
Status WritePrivateFile(const std::string& path, std::string_view contents);

}  // namespace meridian::crypto
