// Where the key-encryption key (KEK, crypto/sealed.h) that seals the deployment's secrets at rest
// comes from. The operator names a file (`meridian serve --kek-file`, or `kek_file` in a cluster
// node's TOML) or puts the key itself in the environment (MERIDIAN_KEK); either holds the
// base64url encoding of 32 random bytes (`meridian kek create` writes one). Every node of a
// cluster must be given the same KEK. The embedded default, given neither, keeps one of its own
// in its data directory, made on its first start.
//
// Stateless; LoadKek does file I/O.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/random.h"
#include "common/status.h"
#include "crypto/sealed.h"

namespace meridian::server {

inline constexpr char kKekVariable[] = "MERIDIAN_KEK";

struct KekSource {
  std::string file;                // --kek-file or kek_file; empty when not given
  std::optional<std::string> env;  // the value of MERIDIAN_KEK, when it is set
  // The embedded default's own KEK file, read when neither of the above is given and made when
  // missing; empty on a cluster node, which must be given its KEK.
  std::string default_file;
};

struct LoadedKek {
  crypto::Kek kek;
  std::string origin;      // the file it was read from or written to, or "MERIDIAN_KEK"
  bool generated = false;  // made now, in default_file
};

// Which KEK the stored sealed secrets name (its id, crypto::SealedKekId), nullopt when the store
// holds none; a failed read is an error.
using SealedUnder = std::function<Result<std::optional<std::string>>()>;

// The KEK of `source`. `sealed_under` is asked only before a new KEK would be made, so that none
// is made for a store whose secrets were sealed under another. Fails with InvalidArgument when a
// file and the variable are both given, or the key is malformed (the message says where it came
// from, never what it holds); FailedPrecondition when no KEK is given and there is no default
// file, or the default file is missing while the store holds sealed secrets (the message names
// their KEK and the ways to give it); NotFound when a named file does not exist; Internal when a
// file cannot be read or written, or `sealed_under` fails.
Result<LoadedKek> LoadKek(const KekSource& source, const SealedUnder& sealed_under, Random& random);

}  // namespace meridian::server
