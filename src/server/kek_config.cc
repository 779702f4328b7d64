#include "server/kek_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto/tls_cert.h"

namespace meridian::server {
namespace fs = std::filesystem;

namespace {

// `text` as a KEK, with `origin` in the error rather than the text.
Result<crypto::Kek> Parse(std::string text, const std::string& origin) {
  auto kek = crypto::Kek::FromText(text);
  crypto::Wipe(text);
  if (!kek.ok()) return InvalidArgument(origin + ": " + kek.status().message());
  return kek;
}

Result<LoadedKek> ReadFile(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("the key-encryption key file " + path + " is missing");
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) return Internal("cannot read the key-encryption key file " + path);
  MERIDIAN_ASSIGN_OR_RETURN(crypto::Kek kek, Parse(text.str(), path));
  std::string contents = text.str();
  crypto::Wipe(contents);
  return LoadedKek{std::move(kek), path, false};
}

}  // namespace

Result<LoadedKek> LoadKek(const KekSource& source, const SealedUnder& sealed_under,
                          Random& random) {
  if (!source.file.empty() && source.env) {
    return InvalidArgument(std::string("both a key-encryption key file (") + source.file +
                           ") and " + kKekVariable + " are given: give one");
  }
  if (source.env) {
    MERIDIAN_ASSIGN_OR_RETURN(crypto::Kek kek, Parse(*source.env, kKekVariable));
    return LoadedKek{std::move(kek), kKekVariable, false};
  }
  if (!source.file.empty()) return ReadFile(source.file);
  if (source.default_file.empty()) {
    return Status(Code::kFailedPrecondition,
                  std::string("no key-encryption key: set kek_file in the node's configuration "
                              "or ") +
                      kKekVariable + " (every node of a cluster needs the same one)");
  }
  std::error_code ec;
  if (fs::exists(source.default_file, ec)) return ReadFile(source.default_file);
  auto sealed = sealed_under();
  if (!sealed.ok()) {
    return Internal("cannot tell whether the store holds sealed secrets: " +
                    sealed.status().message());
  }
  if (*sealed) {
    return Status(Code::kFailedPrecondition,
                  "the store holds secrets sealed under the key-encryption key " + **sealed +
                      ", but " + source.default_file +
                      " is missing: restore it, or give that "
                      "key with --kek-file or " +
                      kKekVariable);
  }
  crypto::Kek kek = crypto::Kek::Generate(random);
  std::string text = kek.ToText() + "\n";
  Status written = crypto::WritePrivateFile(source.default_file, text);
  crypto::Wipe(text);
  MERIDIAN_RETURN_IF_ERROR(written);
  return LoadedKek{std::move(kek), source.default_file, true};
}

}  // namespace meridian::server
