// How `meridian serve` hashes new passwords: crypto::PasswordHashing from its flags
// (--password-algorithm, --password-iterations, --argon2-params) and, on a cluster node, from the
// same keys of its TOML file (password_algorithm, password_iterations, argon2_params), which
// replace the flags when present, as the file's data_dir and listen do.
#pragma once

#include <string>

#include "common/status.h"
#include "crypto/password.h"

namespace meridian::server {

// The settings as given, before they are checked.
struct PasswordOptions {
  std::string algorithm = "pbkdf2-sha256";            // or "argon2id"
  int iterations = crypto::kDefaultPbkdf2Iterations;  // PBKDF2
  std::string argon2_params = "m=19456,t=2,p=1";      // Argon2id, OWASP's
};

// Replaces what `options` holds with the keys of the TOML file at `path` that are present.
// InvalidArgument naming the file and the key when the file cannot be read or a key has the
// wrong type.
Status ReadPasswordOptions(const std::string& path, PasswordOptions* options);

// The configuration `options` describe. InvalidArgument, saying why, for an unknown algorithm,
// malformed Argon2id parameters, or parameters outside crypto/password.h's caps.
Result<crypto::PasswordHashing> ToPasswordHashing(const PasswordOptions& options);

}  // namespace meridian::server
