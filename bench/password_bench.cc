// password_bench: what a password hash costs one core, for the hashes Meridian makes (PBKDF2-
// HMAC-SHA256 at OWASP's 600,000 iterations, Argon2id at OWASP's m=19 MiB, t=2, p=1) and for the
// worst stored hash verification accepts (Argon2id at the work cap: 256 MiB, 4 passes); then the
// password policy's check, which runs before the hash and, for the names, under the write lock.
//
// Each figure is the median of --reps runs of --seconds each, on one thread (pinned to --cpu
// when given), as hashes per second of wall time and per second of the thread's CPU time (the
// second is steadier on a shared machine).
//
//   build/bench/meridian_password_bench [--seconds=3] [--reps=5] [--cpu=0]
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "measure.h"
#include "crypto/password.h"
#include "directory/directory.h"
#include "directory/testing/contexts.h"
#include "directory/password_policy.h"

namespace meridian::bench {
namespace {

void Print(const std::string& what, Rate r) {
  std::printf("| %-50s | %12.2f | %14.2f | %8.3f ms |\n", what.c_str(), r.per_wall_second,
              r.per_cpu_second, 1000.0 / r.per_cpu_second);
}

int Main(int argc, char** argv) {
  double seconds = 3;
  int reps = 5, cpu = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--seconds=", 0) == 0)
      seconds = std::atof(a.c_str() + 10);
    else if (a.rfind("--reps=", 0) == 0)
      reps = std::atoi(a.c_str() + 7);
    else if (a.rfind("--cpu=", 0) == 0)
      cpu = std::atoi(a.c_str() + 6);
    else {
      std::fprintf(stderr, "usage: %s [--seconds=3] [--reps=5] [--cpu=N]\n", argv[0]);
      return 2;
    }
  }
  if (seconds <= 0 || reps < 1) {
    std::fprintf(stderr, "--seconds must be positive and --reps at least 1\n");
    return 2;
  }
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      std::perror("sched_setaffinity");
      return 1;
    }
  }
  std::printf("meridian_password_bench --seconds=%g --reps=%d%s\n", seconds, reps,
              cpu >= 0 ? (" --cpu=" + std::to_string(cpu)).c_str() : "");
  std::printf("median of %d runs of %g s, one thread%s\n\n", reps, seconds,
              cpu >= 0 ? (" pinned to CPU " + std::to_string(cpu)).c_str() : "");
  std::printf("| %-50s | %12s | %14s | %11s |\n", "verification (the work of one hash)",
              "per second", "per CPU-second", "CPU each");
  std::printf("| %-50s | %12s | %14s | %11s |\n", "---", "---:", "---:", "---:");

  const std::string password = "Quiet!Harbor-47x";
  const std::string salt(crypto::kPasswordSaltBytes, 's');
  struct Case {
    const char* name;
    crypto::PasswordHashing config;
  };
  const Case cases[] = {
      {"PBKDF2-HMAC-SHA256, i=600000 (the default)", crypto::PasswordHashing::Pbkdf2(600000)},
      {"Argon2id, m=19456,t=2,p=1 (OWASP, --argon2-params)", crypto::PasswordHashing::Argon2id()},
      {"Argon2id at the cap, m=262144,t=4,p=1",
       crypto::PasswordHashing::Argon2id({crypto::kMaxArgon2MemoryKib, 4, 1})},
  };
  for (const Case& c : cases) {
    auto encoded = crypto::HashPassword(password, salt, c.config);
    if (!encoded.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name, encoded.status().ToString().c_str());
      return 1;
    }
    Rate r = Measure(seconds, reps, [&] {
      auto ok = crypto::VerifyPassword(password, *encoded);
      if (!ok.ok() || !*ok) std::abort();
    });
    Print(c.name, r);
  }

  // A whole password sign-in through the directory (the user's record read, the lockout record
  // read, the hash verified; a failure also writes the name's count, synced) against the bare
  // verification at the same parameters: the hash should be nearly the whole cost.
  {
    std::string dir_template = "/tmp/meridian-password-bench-XXXXXX";
    std::string dir = mkdtemp(dir_template.data());
    directory::DirectoryOptions o;
    o.data_dir = dir;
    o.password_hashing = crypto::PasswordHashing::Pbkdf2(600000);
    auto d = directory::Directory::Open(o);
    auto t = d.ok() ? (*d)->CreateTenant("Bench Sign-in", "DE") : Result<directory::NewTenant>(d.status());
    if (!t.ok()) {
      std::fprintf(stderr, "directory: %s\n", t.status().ToString().c_str());
      return 1;
    }
    auto ctx = testing::ContextForTest::TokenService(t->tenant.id);
    Rate in = Measure(seconds, reps, [&] {
      if (!(*d)->SignInWithPassword(ctx, t->admin_upn, t->admin_password).ok()) std::abort();
    });
    Print("sign-in, right password (directory)", in);
    long n = 0;
    Rate out = Measure(seconds, reps, [&] {
      // A name nobody has: the decoy hash and the count's write, never locked (a new name each time).
      auto r = (*d)->SignInWithPassword(ctx, "ghost" + std::to_string(n++) + "@nowhere.test", "x");
      if (r.ok() || r.status().graph_code() != "AADSTS50126") std::abort();
    });
    Print("sign-in, unknown name (decoy hash + synced write)", out);
    d->reset();
    std::filesystem::remove_all(dir);
  }

  // The policy: what runs before the hash (everything but the names) and under the lock (names).
  directory::PasswordOwner owner{{"Adele", "Vance", "Adele Vance", "adele.vance"}, "Contoso"};
  for (size_t length : {16, 256}) {
    std::string pw;
    while (pw.size() < length) pw += "Quiet!Harbor-47x";
    pw.resize(length);
    Rate checks = Measure(seconds / 3, reps, [&] {
      if (!directory::CheckPasswordPolicy(pw, owner).ok()) std::abort();
    });
    Print("policy check, " + std::to_string(length) + " characters", checks);
  }
  return 0;
}

}  // namespace
}  // namespace meridian::bench

int main(int argc, char** argv) { return meridian::bench::Main(argc, argv); }
