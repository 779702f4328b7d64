// Development TLS certificates and private files.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace meridian::crypto {

struct CertificateAndKey {
  std::string cert_pem, key_pem;
};

// A self-signed ECDSA P-256 certificate valid for `days`, with the given DNS names and IP
// addresses as subjectAltName. Internal on an OpenSSL failure.
Result<CertificateAndKey> GenerateSelfSignedCertificate(const std::vector<std::string>& dns_names,
                                                        const std::vector<std::string>& ips,
                                                        int days);

// Writes `contents` to `path`, creating or truncating it with mode 0600 (keys, credentials).
Status WritePrivateFile(const std::string& path, std::string_view contents);

}  // namespace meridian::crypto
