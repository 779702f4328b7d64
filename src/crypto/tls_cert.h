// Development TLS certificates (self-signed, for `meridian serve` without a real certificate) and
// owner-only files for private keys and bootstrap credentials. Stateless functions, safe from any
// thread.
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

// A self-signed X.509 v3 certificate for a new ECDSA P-256 key, subject
// "O=Meridian, CN=meridian development certificate", a random 127-bit serial, valid from an hour
// ago for `days` days, with subjectAltName listing `dns_names` (e.g. "localhost") and
// `ip_addresses` (IPv4 or IPv6 text, e.g. "127.0.0.1", "::1"), basicConstraints CA:FALSE, key
// usage digitalSignature and extended key usage serverAuth. InvalidArgument when there is no name
// at all, a DNS name is not a host name (letters, digits, '-', '.', a leading "*."), an IP address
// does not parse, or `days` is outside [1, 3650]; Internal if OpenSSL fails.
Result<CertificateAndKey> GenerateSelfSignedCertificate(
    const std::vector<std::string>& dns_names, const std::vector<std::string>& ip_addresses,
    int days);

// Writes `contents` to `path` and syncs it. The file is created or truncated with mode 0600, and
// set to 0600 (fchmod) before anything is written even if it existed with a wider mode. Internal,
// with the path and errno text, if it cannot be opened, written or synced.
Status WritePrivateFile(const std::string& path, std::string_view contents);

}  // namespace meridian::crypto
