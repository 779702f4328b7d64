// Throughput of RS256 token signing and verification, beside the raw RSA-2048 operations they
// are built on, so that the overhead of SignJwt / JwtVerifier::Verify can be read off directly.
//
//   ninja -C build-crypto crypto_sign_benchmark && ./build-crypto/src/crypto/crypto_sign_benchmark
//   openssl speed -seconds 3 rsa2048    # the same raw operations, measured by OpenSSL
//
// items_per_second is tokens (or raw operations) per second; with ->Threads(n) it is the total
// over all threads.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "crypto/jwt.h"
#include "crypto/sha.h"

namespace meridian::crypto {
namespace {
namespace json = boost::json;

const SigningKey& Key() {
  static const SigningKey* key = [] {
    auto k = SigningKey::GenerateRsa2048();
    if (!k.ok()) {
      std::fprintf(stderr, "key generation failed: %s\n", k.status().ToString().c_str());
      std::abort();
    }
    return new SigningKey(std::move(k).value());  // lives for the whole run
  }();
  return *key;
}

// Claims shaped like a client-credentials access token.
json::object Claims() {
  return {{"aud", "https://graph.microsoft.com"},
          {"iss", "https://login.meridian.test/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0"},
          {"iat", 1700000000},
          {"nbf", 1700000000},
          {"exp", 1700003600},
          {"aio", "E2NgYJg7fPm9xF5k"},
          {"app_displayname", "benchmark client"},
          {"appid", "4a1aa1d5-c567-49d0-ad0b-cd957a47f842"},
          {"appidacr", "1"},
          {"idp", "https://sts.meridian.test/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/"},
          {"idtyp", "app"},
          {"oid", "1e4a9d4c-0a6d-4d1b-8c85-2f0c6d2e9b61"},
          {"roles", json::array{"User.Read.All", "Application.ReadWrite.All"}},
          {"sub", "1e4a9d4c-0a6d-4d1b-8c85-2f0c6d2e9b61"},
          {"tid", "8eaef023-2b34-4da1-9baa-8bc8c9d6a490"},
          {"uti", "kOqQbR3uMUeXJz0uN4T3AA"},
          {"ver", "1.0"}};
}

void BM_SignJwt(benchmark::State& state) {
  const SigningKey& key = Key();
  json::object claims = Claims();
  for (auto _ : state) {
    auto token = SignJwt(key, claims);
    if (!token.ok()) state.SkipWithError("SignJwt failed");
    benchmark::DoNotOptimize(token);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignJwt)->Threads(1)->Threads(2)->UseRealTime();

void BM_VerifyJwt(benchmark::State& state) {
  static const JwtVerifier* verifier =
      new JwtVerifier(std::move(JwtVerifier::FromJwks(Jwks({&Key()}))).value());
  std::string token = std::move(SignJwt(Key(), Claims())).value();
  for (auto _ : state) {
    auto claims = verifier->Verify(token);
    if (!claims.ok()) state.SkipWithError("Verify failed");
    benchmark::DoNotOptimize(claims);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_VerifyJwt)->Threads(1)->Threads(2)->UseRealTime();

// The raw RSA-2048 PKCS#1 v1.5 private-key operation over a precomputed SHA-256 digest, with one
// EVP_PKEY_CTX reused: what `openssl speed rsa2048` calls a sign.
void BM_RawRsa2048Sign(benchmark::State& state) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(Key().pkey(), nullptr);
  EVP_PKEY_sign_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
  std::string digest = Sha256("benchmark");
  unsigned char sig[512];
  for (auto _ : state) {
    size_t len = sizeof(sig);
    if (EVP_PKEY_sign(ctx, sig, &len, reinterpret_cast<const unsigned char*>(digest.data()),
                      digest.size()) != 1) {
      state.SkipWithError("EVP_PKEY_sign failed");
    }
    benchmark::DoNotOptimize(sig);
  }
  EVP_PKEY_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRsa2048Sign)->Threads(1)->Threads(2)->UseRealTime();

void BM_RawRsa2048Verify(benchmark::State& state) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(Key().pkey(), nullptr);
  EVP_PKEY_sign_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
  std::string digest = Sha256("benchmark");
  unsigned char sig[512];
  size_t sig_len = sizeof(sig);
  EVP_PKEY_sign(ctx, sig, &sig_len, reinterpret_cast<const unsigned char*>(digest.data()),
                digest.size());
  EVP_PKEY_verify_init(ctx);
  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
  EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256());
  for (auto _ : state) {
    if (EVP_PKEY_verify(ctx, sig, sig_len, reinterpret_cast<const unsigned char*>(digest.data()),
                        digest.size()) != 1) {
      state.SkipWithError("EVP_PKEY_verify failed");
    }
  }
  EVP_PKEY_CTX_free(ctx);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawRsa2048Verify)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace meridian::crypto

BENCHMARK_MAIN();
