// A throwaway self-signed TLS certificate generated at run time, for the http tests and the
// benchmark server (no key is ever stored in the source tree). Production certificates are
// crypto/'s business.
#pragma once

#include <string>

#include "common/status.h"

namespace meridian::http::testing {

struct TestCertificate {
  std::string cert_pem;
  std::string key_pem;  // PKCS#8
};

// A fresh P-256 key and a self-signed certificate for DNS "localhost" and IP 127.0.0.1, valid
// from an hour ago for one day. Fails with kInternal when OpenSSL does.
Result<TestCertificate> MakeSelfSignedCertificate();

}  // namespace meridian::http::testing
