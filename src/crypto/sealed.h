// Secrets sealed at rest (token-signing keys today; certificate keys and TOTP seeds later):
// AES-256-GCM under a data key derived from the operator's key-encryption key (KEK).
//
// The KEK is 32 random bytes the operator provides (server/kek_config.h reads it). It never
// encrypts a secret itself: each (purpose, scope) pair, such as ("signing-key", "global") or a
// purpose and a tenant id, has its own data key, HKDF-SHA256(KEK, info = "meridian sealed v1",
// purpose, scope). Data keys are never stored: one exists only while a value is sealed or opened.
//
// A sealed value is self-describing:
//
//   version (1 byte, 1) | KEK id (8 bytes) | nonce (12 bytes) | ciphertext | GCM tag (16 bytes)
//
// The KEK id names the KEK a value was sealed under, so that a process given another KEK says so
// (and a later KEK rotation can tell old values from new) instead of reporting a bad tag. The
// associated data is the version, the KEK id, the nonce and the record the value belongs to (for a
// signing key, its kid): a sealed value copied into another record does not open.
//
// Nonces are 96 random bits from the caller's Random, drawn when Seal runs, which is before the
// op carrying the sealed value is logged: replicas store the same bytes and never seal. Under one
// data key, random nonces allow about 2^32 seals before a repeat becomes a concern (NIST SP
// 800-38D, section 8.3); a (purpose, scope) pair seals far fewer.
//
// Stateless functions over immutable values; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/status.h"

namespace meridian::crypto {

// What a sealed value is and where it belongs. `purpose` and `scope` choose the data key;
// `record` is bound as associated data. Views: they must outlive the call they are passed to.
struct SealLabel {
  std::string_view purpose;  // what the secret is, e.g. "signing-key"
  std::string_view scope;    // whose it is: "global" or a tenant id
  std::string_view record;   // the record holding it, e.g. the signing key's kid
};

// A key-encryption key: 32 secret bytes and their public id. A value type; its bytes are wiped
// when it is destroyed.
class Kek {
 public:
  static constexpr size_t kBytes = 32;

  // The KEK in `text`: base64url (padded or not) of exactly 32 bytes, surrounding whitespace
  // ignored (a file's trailing newline). InvalidArgument otherwise; the message never quotes the
  // text.
  static Result<Kek> FromText(std::string_view text);
  // A new KEK of 32 bytes from `random`.
  static Kek Generate(Random& random);

  Kek(const Kek& other) = default;
  Kek(Kek&& other) noexcept = default;
  Kek& operator=(const Kek& other) = default;
  Kek& operator=(Kek&& other) noexcept = default;
  ~Kek();

  // Unpadded base64url (43 characters), as FromText reads it. Secret.
  std::string ToText() const;
  // 16 hex digits naming this KEK: the first 8 bytes of HMAC-SHA256(KEK, "meridian kek id").
  // Not secret; safe to log.
  std::string IdHex() const;

 private:
  friend std::string Seal(const Kek&, const SealLabel&, std::string_view, Random&);
  friend Result<std::string> Open(const Kek&, const SealLabel&, std::string_view);
  explicit Kek(std::string bytes);

  std::string bytes_;
  std::string id_;  // 8 bytes
};

// `plaintext` sealed for `label` under `kek`, with a nonce drawn from `random`. Cannot fail:
// an OpenSSL failure here (allocation, a missing AES-GCM) aborts the process.
std::string Seal(const Kek& kek, const SealLabel& label, std::string_view plaintext,
                 Random& random);

// The plaintext of `sealed`, which must have been sealed for exactly `label`. Fails with
// InvalidArgument when `sealed` is too short to be a sealed value or names a version this code
// cannot open; FailedPrecondition when it was sealed under another KEK (the message names both
// ids); Unauthenticated when any byte was altered or it was sealed for another label.
Result<std::string> Open(const Kek& kek, const SealLabel& label, std::string_view sealed);

// The id (16 hex digits) of the KEK `sealed` names; nullopt when it is not a sealed value of a
// known version. Nothing is verified: for messages and for choosing a KEK, never for trust.
std::optional<std::string> SealedKekId(std::string_view sealed);

// Overwrites `s` with zeros (OPENSSL_cleanse, which the compiler cannot drop) and empties it:
// for a plaintext secret once it has been used.
void Wipe(std::string& s);

}  // namespace meridian::crypto
