#include "common/random.h"

#include <openssl/rand.h>

#include <cstdlib>
#include <mutex>
#include <random>

namespace meridian {

std::string Random::Bytes(size_t n) {
  std::string s(n, '\0');
  Fill(reinterpret_cast<uint8_t*>(s.data()), n);
  return s;
}

std::string Random::Uuid() {
  uint8_t b[16];
  Fill(b, sizeof(b));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 15]);
  }
  return out;
}

void SecureRandom::Fill(uint8_t* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) {
    // Without randomness no secret or id is safe to hand out; this cannot be recovered from.
    abort();
  }
}

SecureRandom* SecureRandom::Default() {
  static SecureRandom r;
  return &r;
}

namespace {
class SeededRandom final : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : gen_(seed) {}
  void Fill(uint8_t* out, size_t n) override {
    std::lock_guard<std::mutex> l(mu_);
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(gen_());
  }

 private:
  std::mutex mu_;
  std::mt19937_64 gen_;
};
}  // namespace

std::unique_ptr<Random> NewSeededRandom(uint64_t seed) {
  return std::make_unique<SeededRandom>(seed);
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace meridian
