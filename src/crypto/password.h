// Password hashing in self-describing formats, so that the algorithm and its work factor can be
// changed later while every stored hash still verifies (NeedsRehash tells when to re-hash at the
// next successful sign-in):
//
//   PBKDF2-HMAC-SHA256 (RFC 8018):  $pbkdf2-sha256$i=<iterations>$<salt b64url>$<hash b64url>
//   Argon2id (RFC 9106, v1.3):      $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>
//
// The Argon2id form is the PHC string format exactly as libargon2's argon2id_hash_encoded writes
// it (standard base64 alphabet without padding), so hashes move to and from other systems that
// speak it. Verification parses both strictly (one spelling per hash: no leading zeros, no
// padding, no spare bits, no optional fields) and refuses parameters beyond the caps below, so a
// corrupted or hostile stored hash cannot make one verification take seconds of CPU or more than
// 256 MiB of memory. Argon2id lanes are computed on the calling thread (never threads of its
// own), so a hash uses one core, as the CPU gate that runs it assumes.
//
// Stateless functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::crypto {

enum class PasswordAlgorithm { kPbkdf2Sha256, kArgon2id };

// Argon2id's cost parameters, as the PHC string names them.
struct Argon2Params {
  uint32_t memory_kib = 19 * 1024;  // m: memory in KiB
  uint32_t iterations = 2;          // t: passes over the memory
  uint32_t parallelism = 1;         // p: lanes
  bool operator==(const Argon2Params&) const = default;
};

// OWASP's current recommendations (Password Storage Cheat Sheet).
inline constexpr int kDefaultPbkdf2Iterations = 600000;
inline constexpr Argon2Params kDefaultArgon2Params{19 * 1024, 2, 1};

// The most work one hash may take, for hashing and for verification alike: a configuration
// beyond these is refused at start, and a stored hash beyond them is refused as malformed.
// PBKDF2: 20,000,000 iterations (about 4 s of one core at 5.6 million a second).
inline constexpr int kMaxPbkdf2Iterations = 20'000'000;
// Argon2id: at most 256 MiB of memory, at most 16 lanes, and m * t at most 1 GiB of passes
// (about 0.8 s of one core: docs/benchmarks.md, "Password hashing").
inline constexpr uint32_t kMaxArgon2MemoryKib = 256 * 1024;
inline constexpr uint32_t kMaxArgon2Parallelism = 16;
inline constexpr uint64_t kMaxArgon2WorkKib = 1024 * 1024;
// Salt and hash lengths accepted in an Argon2id hash (libargon2's minimum salt is 8 bytes). What
// HashPassword writes: the caller's salt (draw kPasswordSaltBytes) and a 32-byte hash.
inline constexpr size_t kMinArgon2SaltBytes = 8, kMaxArgon2SaltBytes = 64;
inline constexpr size_t kMinArgon2HashBytes = 16, kMaxArgon2HashBytes = 64;
inline constexpr size_t kPasswordSaltBytes = 16;

// How new password hashes are made: the deployment's configuration (`meridian serve
// --password-algorithm`). A plain value; copy it freely.
struct PasswordHashing {
  PasswordAlgorithm algorithm = PasswordAlgorithm::kPbkdf2Sha256;
  int pbkdf2_iterations = kDefaultPbkdf2Iterations;  // when algorithm is kPbkdf2Sha256
  Argon2Params argon2 = kDefaultArgon2Params;        // when algorithm is kArgon2id

  static PasswordHashing Pbkdf2(int iterations);
  static PasswordHashing Argon2id(Argon2Params params = kDefaultArgon2Params);
  // InvalidArgument, naming the bound, when the parameters of `algorithm` are outside the caps
  // above (or below their minimums: 1 iteration; t >= 1, 1 <= p, m >= 8 * p).
  Status Validate() const;
  // "pbkdf2-sha256 (i=600000)", "argon2id (m=19456,t=2,p=1)": for logs.
  std::string Describe() const;
  bool operator==(const PasswordHashing&) const = default;
};

// "pbkdf2-sha256" or "argon2id" (exactly); InvalidArgument otherwise.
Result<PasswordAlgorithm> ParsePasswordAlgorithm(std::string_view name);
std::string_view PasswordAlgorithmName(PasswordAlgorithm algorithm);
// "m=<KiB>,t=<passes>,p=<lanes>", in that order, decimal without sign or leading zero, within
// the caps; InvalidArgument otherwise.
Result<Argon2Params> ParseArgon2Params(std::string_view text);

// The encoded hash of `password` with `salt` (raw bytes; draw kPasswordSaltBytes from Random)
// under `config`. Deterministic given the salt: the caller draws the salt before the op is
// logged, so every replica applying the op stores the same hash. InvalidArgument when `config`
// does not Validate() or, for Argon2id, when the salt is outside [8, 64] bytes;
// ResourceExhausted when Argon2id's memory cannot be allocated.
Result<std::string> HashPassword(std::string_view password, std::string_view salt,
                                 const PasswordHashing& config);

// Whether `password` matches `encoded` (either format), the hashes compared in constant time.
// InvalidArgument when `encoded` is not exactly one of the formats above within the caps (an
// unknown algorithm or version, a parameter out of bounds or not in canonical decimal, salt or
// hash of a wrong length or not in canonical base64); ResourceExhausted when Argon2id's memory
// cannot be allocated.
Result<bool> VerifyPassword(std::string_view password, std::string_view encoded);

// True when `encoded` should be replaced by a fresh hash under `configured` at the next
// successful sign-in: it is not a hash in a format above, or it uses another algorithm, or it is
// weaker than the configuration (fewer PBKDF2 iterations; less Argon2id memory or fewer passes,
// or another lane count; a salt under 16 bytes or a hash under 32). A hash stronger than the
// configuration is kept.
bool NeedsRehash(std::string_view encoded, const PasswordHashing& configured);

}  // namespace meridian::crypto
