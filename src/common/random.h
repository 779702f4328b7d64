// Random: the one source of randomness (ids, secrets, salts). Injected so that tests can make
// ids predictable; the default draws from OpenSSL's CSPRNG.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace meridian {

class Random {
 public:
  virtual ~Random() = default;
  // Fills `out` with `n` random bytes. Thread-safe.
  virtual void Fill(uint8_t* out, size_t n) = 0;

  std::string Bytes(size_t n);
  // A version-4 GUID in Graph's lower-case 8-4-4-4-12 form.
  std::string Uuid();
};

// Cryptographically secure (OpenSSL RAND_bytes).
class SecureRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t n) override;
  static SecureRandom* Default();
};

// Deterministic, from a seed; for tests only. Thread-safe.
std::unique_ptr<Random> NewSeededRandom(uint64_t seed);

bool IsUuid(std::string_view s);

}  // namespace meridian
