#include "crypto/password.h"

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <charconv>
#include <limits>
#include <optional>

#include "common/encoding.h"
#include "crypto/internal/openssl_util.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {

constexpr std::string_view kPbkdf2Prefix = "$pbkdf2-sha256$i=";
constexpr std::string_view kArgon2Prefix = "$argon2id$v=19$";
constexpr size_t kPbkdf2HashBytes = 32;
constexpr size_t kArgon2HashBytes = 32;
// Below these a stored hash is re-hashed (NeedsRehash) even when its work factor is current.
constexpr size_t kMinCurrentSaltBytes = 16, kMinCurrentHashBytes = 32;

// ---- PBKDF2-HMAC-SHA256

struct KdfDeleter {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

const EVP_KDF* Pbkdf2() {
  static const EVP_KDF* const kdf = [] {
    EVP_KDF* fetched = EVP_KDF_fetch(nullptr, "PBKDF2", nullptr);
    if (!fetched) internal::OpenSslFatal("EVP_KDF_fetch(PBKDF2)");
    return fetched;  // lives as long as the process
  }();
  return kdf;
}

// A pointer for OSSL_PARAM (never null, even for an empty view).
char* NonNull(std::string_view s) {
  static char empty[1] = {0};
  return s.empty() ? empty : const_cast<char*>(s.data());
}

std::string DerivePbkdf2(std::string_view password, std::string_view salt, int iterations) {
  std::unique_ptr<EVP_KDF_CTX, KdfDeleter> ctx(EVP_KDF_CTX_new(const_cast<EVP_KDF*>(Pbkdf2())));
  if (!ctx) internal::OpenSslFatal("EVP_KDF_CTX_new");
  uint64_t iter = static_cast<uint64_t>(iterations);
  // pkcs5=1 turns off the SP 800-132 minimums (salt >= 16 bytes, >= 1000 iterations) that the
  // provider would otherwise enforce: the parameters are the caller's choice and are recorded.
  int pkcs5 = 1;
  char digest[] = "SHA256";
  // OSSL_PARAM takes non-const pointers but does not write through them for input parameters.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, NonNull(password),
                                        password.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, NonNull(salt), salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
      OSSL_PARAM_construct_end(),
  };
  std::string out(kPbkdf2HashBytes, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) !=
      1) {
    internal::OpenSslFatal("PBKDF2-HMAC-SHA256");
  }
  return out;
}

// ---- Argon2id

// The PHC string format's base64: the standard alphabet without padding.
std::string PhcBase64(std::string_view in) {
  std::string out = Base64Encode(in);
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// `in` decoded only when it is exactly what PhcBase64 writes for the bytes (no padding, no
// spare bits, no other alphabet).
std::optional<std::string> DecodePhcBase64(std::string_view in) {
  auto out = Base64Decode(in);
  if (!out || PhcBase64(*out) != in) return std::nullopt;
  return out;
}

Status CheckArgon2Params(const Argon2Params& p) {
  if (p.parallelism < 1 || p.parallelism > kMaxArgon2Parallelism) {
    return InvalidArgument("Argon2id parallelism must be between 1 and " +
                           std::to_string(kMaxArgon2Parallelism));
  }
  if (p.memory_kib < 8 * p.parallelism || p.memory_kib > kMaxArgon2MemoryKib) {
    return InvalidArgument("Argon2id memory must be between 8 KiB per lane and " +
                           std::to_string(kMaxArgon2MemoryKib) + " KiB");
  }
  if (p.iterations < 1 || static_cast<uint64_t>(p.memory_kib) * p.iterations > kMaxArgon2WorkKib) {
    return InvalidArgument(
        "Argon2id iterations must be at least 1, and memory (KiB) times "
        "iterations at most " +
        std::to_string(kMaxArgon2WorkKib));
  }
  return Status::Ok();
}

// Argon2id v1.3 of `password` and `salt` with `p`, which must pass CheckArgon2Params, into
// `out_bytes` bytes. The lanes are computed on this thread.
Result<std::string> DeriveArgon2id(std::string_view password, std::string_view salt,
                                   const Argon2Params& p, size_t out_bytes) {
  if (password.size() > std::numeric_limits<uint32_t>::max()) {
    return InvalidArgument("the password is too long");
  }
  std::string out(out_bytes, '\0');
  argon2_context ctx{};
  ctx.out = reinterpret_cast<uint8_t*>(out.data());
  ctx.outlen = static_cast<uint32_t>(out.size());
  // libargon2 reads these; it writes to them only with ARGON2_FLAG_CLEAR_*, which is not set.
  ctx.pwd = reinterpret_cast<uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = static_cast<uint32_t>(password.size());
  ctx.salt = reinterpret_cast<uint8_t*>(const_cast<char*>(salt.data()));
  ctx.saltlen = static_cast<uint32_t>(salt.size());
  ctx.t_cost = p.iterations;
  ctx.m_cost = p.memory_kib;
  ctx.lanes = p.parallelism;
  ctx.threads = 1;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  int rc = argon2_ctx(&ctx, Argon2_id);
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return Status(Code::kResourceExhausted,
                  "cannot allocate " + std::to_string(p.memory_kib) + " KiB for Argon2id");
  }
  if (rc != ARGON2_OK) {
    return Internal(std::string("Argon2id: ") + argon2_error_message(rc));
  }
  return out;
}

// ---- Parsing

// A decimal number in [1, max] with no sign and no leading zero, the whole of `digits`.
template <typename T>
std::optional<T> ParseCount(std::string_view digits, T max) {
  if (digits.empty() || digits[0] == '0') return std::nullopt;
  T v{};
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size() || v < 1 || v > max) {
    return std::nullopt;
  }
  return v;
}

// Takes "<name>=<count>" followed by `sep` (or the end of `*in` when sep is 0) off the front of
// `*in`.
template <typename T>
std::optional<T> TakeField(std::string_view* in, std::string_view name, char sep, T max) {
  if (!StartsWith(*in, name) || in->size() <= name.size() || (*in)[name.size()] != '=') {
    return std::nullopt;
  }
  in->remove_prefix(name.size() + 1);
  size_t end = sep ? in->find(sep) : in->size();
  if (end == std::string_view::npos) return std::nullopt;
  auto v = ParseCount<T>(in->substr(0, end), max);
  in->remove_prefix(sep ? end + 1 : end);
  return v;
}

std::optional<Argon2Params> ParseParams(std::string_view* in, char sep_after) {
  Argon2Params p;
  auto m = TakeField<uint32_t>(in, "m", ',', kMaxArgon2MemoryKib);
  auto t =
      m ? TakeField<uint32_t>(in, "t", ',', std::numeric_limits<uint32_t>::max()) : std::nullopt;
  auto l = t ? TakeField<uint32_t>(in, "p", sep_after, kMaxArgon2Parallelism) : std::nullopt;
  if (!l) return std::nullopt;
  p.memory_kib = *m;
  p.iterations = *t;
  p.parallelism = *l;
  if (!CheckArgon2Params(p).ok()) return std::nullopt;
  return p;
}

struct Parsed {
  PasswordAlgorithm algorithm = PasswordAlgorithm::kPbkdf2Sha256;
  int iterations = 0;   // PBKDF2
  Argon2Params argon2;  // Argon2id
  std::string salt, hash;
};

std::optional<Parsed> ParseArgon2id(std::string_view encoded) {
  std::string_view rest = encoded.substr(kArgon2Prefix.size());
  Parsed p;
  p.algorithm = PasswordAlgorithm::kArgon2id;
  auto params = ParseParams(&rest, '$');
  if (!params) return std::nullopt;
  p.argon2 = *params;
  size_t d = rest.find('$');
  if (d == std::string_view::npos) return std::nullopt;
  auto salt = DecodePhcBase64(rest.substr(0, d));
  auto hash = DecodePhcBase64(rest.substr(d + 1));  // a further '$' is not base64: refused
  if (!salt || salt->size() < kMinArgon2SaltBytes || salt->size() > kMaxArgon2SaltBytes || !hash ||
      hash->size() < kMinArgon2HashBytes || hash->size() > kMaxArgon2HashBytes) {
    return std::nullopt;
  }
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  return p;
}

std::optional<Parsed> ParsePbkdf2(std::string_view encoded) {
  std::string_view rest = encoded.substr(kPbkdf2Prefix.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  Parsed p;
  auto iterations = ParseCount<int>(rest.substr(0, d1), kMaxPbkdf2Iterations);
  if (!iterations) return std::nullopt;
  p.iterations = *iterations;
  rest = rest.substr(d1 + 1);
  size_t d2 = rest.find('$');
  if (d2 == std::string_view::npos) return std::nullopt;
  auto salt = internal::DecodeCanonicalBase64Url(rest.substr(0, d2));
  auto hash = internal::DecodeCanonicalBase64Url(rest.substr(d2 + 1));
  if (!salt || !hash || hash->size() != kPbkdf2HashBytes) return std::nullopt;
  p.salt = std::move(*salt);
  p.hash = std::move(*hash);
  return p;
}

std::optional<Parsed> Parse(std::string_view encoded) {
  if (StartsWith(encoded, kPbkdf2Prefix)) return ParsePbkdf2(encoded);
  if (StartsWith(encoded, kArgon2Prefix)) return ParseArgon2id(encoded);
  return std::nullopt;
}

}  // namespace

PasswordHashing PasswordHashing::Pbkdf2(int iterations) {
  PasswordHashing h;
  h.algorithm = PasswordAlgorithm::kPbkdf2Sha256;
  h.pbkdf2_iterations = iterations;
  return h;
}

PasswordHashing PasswordHashing::Argon2id(Argon2Params params) {
  PasswordHashing h;
  h.algorithm = PasswordAlgorithm::kArgon2id;
  h.argon2 = params;
  return h;
}

Status PasswordHashing::Validate() const {
  switch (algorithm) {
    case PasswordAlgorithm::kPbkdf2Sha256:
      if (pbkdf2_iterations < 1 || pbkdf2_iterations > kMaxPbkdf2Iterations) {
        return InvalidArgument("PBKDF2 iterations must be between 1 and " +
                               std::to_string(kMaxPbkdf2Iterations));
      }
      return Status::Ok();
    case PasswordAlgorithm::kArgon2id:
      return CheckArgon2Params(argon2);
  }
  return InvalidArgument("unknown password algorithm");
}

std::string PasswordHashing::Describe() const {
  std::string name(PasswordAlgorithmName(algorithm));
  if (algorithm == PasswordAlgorithm::kPbkdf2Sha256) {
    return name + " (i=" + std::to_string(pbkdf2_iterations) + ")";
  }
  return name + " (m=" + std::to_string(argon2.memory_kib) +
         ",t=" + std::to_string(argon2.iterations) + ",p=" + std::to_string(argon2.parallelism) +
         ")";
}

Result<PasswordAlgorithm> ParsePasswordAlgorithm(std::string_view name) {
  if (name == "pbkdf2-sha256") return PasswordAlgorithm::kPbkdf2Sha256;
  if (name == "argon2id") return PasswordAlgorithm::kArgon2id;
  return InvalidArgument("unknown password algorithm '" + std::string(name) +
                         "' (pbkdf2-sha256 or argon2id)");
}

std::string_view PasswordAlgorithmName(PasswordAlgorithm algorithm) {
  return algorithm == PasswordAlgorithm::kArgon2id ? "argon2id" : "pbkdf2-sha256";
}

Result<Argon2Params> ParseArgon2Params(std::string_view text) {
  std::string_view rest = text;
  auto p = ParseParams(&rest, 0);
  if (!p || !rest.empty()) {
    return InvalidArgument(
        "Argon2id parameters must read m=<KiB>,t=<iterations>,p=<lanes> "
        "with 8 KiB per lane <= m <= " +
        std::to_string(kMaxArgon2MemoryKib) +
        ", 1 <= p <= " + std::to_string(kMaxArgon2Parallelism) +
        " and m*t <= " + std::to_string(kMaxArgon2WorkKib) + ", not '" + std::string(text) + "'");
  }
  return *p;
}

Result<std::string> HashPassword(std::string_view password, std::string_view salt,
                                 const PasswordHashing& config) {
  MERIDIAN_RETURN_IF_ERROR(config.Validate());
  if (config.algorithm == PasswordAlgorithm::kPbkdf2Sha256) {
    return std::string(kPbkdf2Prefix) + std::to_string(config.pbkdf2_iterations) + "$" +
           Base64UrlEncode(salt) + "$" +
           Base64UrlEncode(DerivePbkdf2(password, salt, config.pbkdf2_iterations));
  }
  if (salt.size() < kMinArgon2SaltBytes || salt.size() > kMaxArgon2SaltBytes) {
    return InvalidArgument("an Argon2id salt must have 8 to 64 bytes");
  }
  const Argon2Params& a = config.argon2;
  MERIDIAN_ASSIGN_OR_RETURN(std::string hash, DeriveArgon2id(password, salt, a, kArgon2HashBytes));
  return std::string(kArgon2Prefix) + "m=" + std::to_string(a.memory_kib) +
         ",t=" + std::to_string(a.iterations) + ",p=" + std::to_string(a.parallelism) + "$" +
         PhcBase64(salt) + "$" + PhcBase64(hash);
}

Result<bool> VerifyPassword(std::string_view password, std::string_view encoded) {
  auto p = Parse(encoded);
  if (!p) {
    return InvalidArgument(
        "the stored password hash is not a PBKDF2-SHA256 or Argon2id hash within bounds");
  }
  if (p->algorithm == PasswordAlgorithm::kPbkdf2Sha256) {
    return ConstantTimeEquals(DerivePbkdf2(password, p->salt, p->iterations), p->hash);
  }
  MERIDIAN_ASSIGN_OR_RETURN(std::string derived,
                            DeriveArgon2id(password, p->salt, p->argon2, p->hash.size()));
  return ConstantTimeEquals(derived, p->hash);
}

bool NeedsRehash(std::string_view encoded, const PasswordHashing& configured) {
  auto p = Parse(encoded);
  if (!p || p->algorithm != configured.algorithm) return true;
  if (p->salt.size() < kMinCurrentSaltBytes || p->hash.size() < kMinCurrentHashBytes) return true;
  if (p->algorithm == PasswordAlgorithm::kPbkdf2Sha256) {
    return p->iterations < configured.pbkdf2_iterations;
  }
  const Argon2Params& want = configured.argon2;
  return p->argon2.memory_kib < want.memory_kib || p->argon2.iterations < want.iterations ||
         p->argon2.parallelism != want.parallelism;
}

}  // namespace meridian::crypto
