// meridian_bench_populate: fills a data directory for the benchmarks, directly through the
// directory layer (population is not what is measured): N tenants, and in the first one U users.
// Prints a JSON document with the first tenant's credentials and sample ids.
//
//   meridian_bench_populate --data-dir D --tenants 1 --users 100000
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <iostream>

#include "directory/directory.h"
#include "directory/testing/contexts.h"

using namespace meridian;
namespace json = boost::json;

int main(int argc, char** argv) {
  CLI::App app{"Populate a Meridian data directory for benchmarks"};
  std::string data_dir;
  int tenants = 1, users = 1000;
  app.add_option("--data-dir", data_dir)->required();
  app.add_option("--tenants", tenants);
  app.add_option("--users", users, "users in the first tenant");
  CLI11_PARSE(app, argc, argv);

  directory::DirectoryOptions o;
  o.data_dir = data_dir;
  o.sync = false;               // population only; the server reopens with sync on
  o.password_hashing = crypto::PasswordHashing::Pbkdf2(1000);  // population only
  auto d = directory::Directory::Open(o);
  if (!d.ok()) {
    std::cerr << d.status().ToString() << "\n";
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  auto first = (*d)->CreateTenant("Bench", "US");
  if (!first.ok()) {
    std::cerr << first.status().ToString() << "\n";
    return 1;
  }
  const char* countries[] = {"US", "DE", "AU", "JP", "BR", "FR", "CA", "IN"};
  for (int i = 1; i < tenants; ++i) {
    auto t = (*d)->CreateTenant("Tenant " + std::to_string(i), countries[i % 8]);
    if (!t.ok()) {
      std::cerr << t.status().ToString() << "\n";
      return 1;
    }
  }
  auto ctx = testing::ContextForTest::Operator(first->tenant.id);
  const auto& type = *directory::FindType("user");
  std::string sample_id;
  for (int i = 0; i < users; ++i) {
    char name[32];
    snprintf(name, sizeof(name), "u%06d", i);
    json::object body{{"accountEnabled", true},
                      {"displayName", std::string("User ") + (name + 1)},
                      {"mailNickname", name},
                      {"givenName", "Given" + std::to_string(i % 1000)},
                      {"surname", "Surname" + std::to_string(i % 997)},
                      {"department", "Dept" + std::to_string(i % 50)},
                      {"userPrincipalName", std::string(name) + "@" + first->tenant.domains[0]},
                      {"passwordProfile", {{"password", "Str0ng!Passw0rd"}}}};
    auto r = (*d)->Create(ctx, type, body);
    if (!r.ok()) {
      std::cerr << r.status().ToString() << "\n";
      return 1;
    }
    if (i == users / 2) sample_id = r->object.id;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  json::object out{{"tenantId", first->tenant.id},
                   {"domain", first->tenant.domains[0]},
                   {"appId", first->app_id},
                   {"clientSecret", first->client_secret},
                   {"sampleUserId", sample_id},
                   {"tenants", tenants},
                   {"users", users},
                   {"seconds", secs}};
  std::cout << json::serialize(out) << std::endl;
  return 0;
}
