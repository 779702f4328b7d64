#include "server/password_options.h"

#include <toml.hpp>

namespace meridian::server {

Status ReadPasswordOptions(const std::string& path, PasswordOptions* options) {
  std::string key;
  try {
    const auto data = toml::parse(path);
    // toml::find (not find_or, which answers the fallback for a value of the wrong type), only
    // for the keys present.
    auto present = [&](const char* k) {
      key = k;
      return data.contains(k);
    };
    if (present("password_algorithm")) options->algorithm = toml::find<std::string>(data, key);
    if (present("password_iterations")) {
      toml::integer iterations = toml::find<toml::integer>(data, key);
      if (iterations < 1 || iterations > crypto::kMaxPbkdf2Iterations) {
        return InvalidArgument(path + ": key '" + key + "': must be between 1 and " +
                               std::to_string(crypto::kMaxPbkdf2Iterations));
      }
      options->iterations = static_cast<int>(iterations);
    }
    if (present("argon2_params")) options->argon2_params = toml::find<std::string>(data, key);
  } catch (const std::exception& e) {
    return InvalidArgument(path + ": " + (key.empty() ? "" : "key '" + key + "': ") + e.what());
  }
  return Status::Ok();
}

Result<crypto::PasswordHashing> ToPasswordHashing(const PasswordOptions& options) {
  crypto::PasswordHashing h;
  MERIDIAN_ASSIGN_OR_RETURN(h.algorithm, crypto::ParsePasswordAlgorithm(options.algorithm));
  h.pbkdf2_iterations = options.iterations;
  MERIDIAN_ASSIGN_OR_RETURN(h.argon2, crypto::ParseArgon2Params(options.argon2_params));
  MERIDIAN_RETURN_IF_ERROR(h.Validate());
  return h;
}

}  // namespace meridian::server
