// meridian: the one binary. `meridian serve` runs the embedded default (every role in one
// process on one data directory); `meridian tenant create` asks a running server for a new
// tenant and prints its bootstrap credentials; `meridian tenant restore-admin` is the operator's
// break-glass for a tenant without administrators; `meridian residency report` prints where
// every tenant's data lives; `meridian cluster certs` makes the cluster CA
// and the node certificates of node-to-node mutual TLS; `meridian kek create` writes a
// key-encryption key.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/encoding.h"
#include "common/random.h"
#include "crypto/sealed.h"
#include "crypto/tls_cert.h"
#include "http/client.h"
#include "http/server.h"
#include "rpc/cluster_certs.h"
#include "server/kek_config.h"
#include "server/meridian_server.h"
#include "server/password_options.h"

namespace json = boost::json;
using namespace meridian;

namespace {

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Serve(const server::ServeOptions& options) {
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // Every connection is a descriptor; the HTTPS server derives its connection cap from this.
  auto files = http::RaiseOpenFileLimit();
  if (files.ok()) {
    spdlog::info("open file limit: {}", *files);
  } else {
    spdlog::warn("{}", files.status().ToString());
  }

  auto s = server::MeridianServer::Start(options);
  if (!s.ok()) {
    spdlog::error("cannot start: {}", s.status().ToString());
    return 1;
  }
  spdlog::info("Meridian is listening on {} (data directory {})", (*s)->public_url(),
               std::filesystem::absolute(options.data_dir).lexically_normal().string());
  spdlog::info("new password hashes: {}", options.password_hashing.Describe());
  if (!(*s)->first_tenant_file().empty()) {
    std::cout << "First tenant created; its credentials (readable only by you) are in "
              << (*s)->first_tenant_file() << std::endl;
  }
  int sig = 0;
  sigwait(&set, &sig);
  spdlog::info("signal {}: stopping", sig);
  (*s)->Stop();
  return 0;
}

// Writes `v` indented by two spaces a level, for a person to read.
void PrettyPrint(std::ostream& os, const json::value& v, int indent = 0) {
  std::string pad(indent + 2, ' ');
  if (const auto* o = v.if_object(); o && !o->empty()) {
    os << "{\n";
    for (auto it = o->begin(); it != o->end(); ++it) {
      os << pad << json::serialize(json::string(it->key())) << ": ";
      PrettyPrint(os, it->value(), indent + 2);
      os << (std::next(it) == o->end() ? "\n" : ",\n");
    }
    os << std::string(indent, ' ') << "}";
  } else if (const auto* a = v.if_array(); a && !a->empty()) {
    os << "[\n";
    for (size_t i = 0; i < a->size(); ++i) {
      os << pad;
      PrettyPrint(os, (*a)[i], indent + 2);
      os << (i + 1 == a->size() ? "\n" : ",\n");
    }
    os << std::string(indent, ' ') << "]";
  } else {
    os << json::serialize(v);
  }
}

// Sends an operator request to the server running on `data_dir` and prints its answer (indented
// when `pretty` and the answer is JSON). Returns the process exit code: 1 when the server cannot
// be reached or answers other than `expected_status`.
int OperatorRequest(const std::string& data_dir, const std::string& method,
                    const std::string& path, const json::object& body, int expected_status,
                    bool pretty = false) {
  namespace fs = std::filesystem;
  fs::path dir = data_dir;
  std::string info_raw = Slurp(dir / "server.json");
  boost::system::error_code ec;
  json::value info = json::parse(info_raw, ec);
  if (ec || !info.is_object()) {
    std::cerr << "No running server found in " << data_dir
              << " (server.json is missing); start `meridian serve` first." << std::endl;
    return 1;
  }
  // A cluster node names the operator key it shares with the other nodes.
  fs::path key_file = dir / "operator.key";
  if (auto* k = info.as_object().if_contains("operatorKey"); k && k->is_string()) {
    key_file = std::string(k->get_string());
  }
  std::string key = Slurp(key_file);
  while (!key.empty() && isspace(static_cast<unsigned char>(key.back()))) key.pop_back();
  auto port = static_cast<uint16_t>(info.at("port").to_number<int64_t>());
  auto client = http::Client::Connect("127.0.0.1", port, Slurp(dir / "tls" / "cert.pem"));
  if (!client.ok()) {
    std::cerr << "Cannot reach the server on port " << port << ": "
              << client.status().ToString() << std::endl;
    return 1;
  }
  std::vector<std::pair<std::string, std::string>> headers{{"Authorization", "Bearer " + key}};
  if (method != "GET") headers.emplace_back("Content-Type", "application/json");
  auto res = (*client)->Send(method, path, headers, method == "GET" ? "" : json::serialize(body));
  if (!res.ok()) {
    std::cerr << "Request failed: " << res.status().ToString() << std::endl;
    return 1;
  }
  if (res->status != expected_status) {
    std::cerr << res->body << std::endl;
    return 1;
  }
  json::value answer = pretty ? json::parse(res->body, ec) : json::value();
  if (pretty && !ec) {
    PrettyPrint(std::cout, answer);
    std::cout << std::endl;
  } else {
    std::cout << res->body << std::endl;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Meridian: a self-hostable identity platform"};
  app.require_subcommand(1);

  server::ServeOptions serve;
  auto* s = app.add_subcommand("serve", "Run Meridian on its embedded default (one process)");
  s->add_option("--data-dir", serve.data_dir, "Data directory")->capture_default_str();
  s->add_option("--bind", serve.bind_address, "Address to listen on")->capture_default_str();
  s->add_option("--port", serve.port, "HTTPS port (0 picks a free one)")->capture_default_str();
  s->add_option("--threads", serve.threads, "Server threads (0: one per core)");
  s->add_option("--public-url", serve.public_url,
                "Base URL clients use (default https://localhost:<port>)");
  s->add_option("--cloud", serve.cloud, "Cloud this deployment belongs to: global, usgov, china")
      ->capture_default_str();
  s->add_option("--partitions-per-region", serve.partitions_per_region)->capture_default_str();
  s->add_option("--first-tenant-name", serve.first_tenant_name)->capture_default_str();
  s->add_option("--first-tenant-country", serve.first_tenant_country)->capture_default_str();
  server::PasswordOptions passwords;
  s->add_option("--password-algorithm", passwords.algorithm,
                "Algorithm of new password hashes: pbkdf2-sha256 or argon2id")
      ->capture_default_str();
  s->add_option("--password-iterations", passwords.iterations,
                "PBKDF2-HMAC-SHA256 iterations for new password hashes")
      ->capture_default_str();
  s->add_option("--argon2-params", passwords.argon2_params,
                "Argon2id memory (KiB), iterations and lanes for new password hashes")
      ->capture_default_str();
  s->add_option("--kek-file", serve.kek_file,
                "File holding the key-encryption key that seals the signing keys (base64url of "
                "32 bytes; `meridian kek create`); or set MERIDIAN_KEK. Default: <data-dir>/"
                "kek.key, made on first start");
  std::string config_file;
  s->add_option("--config", config_file,
                "Run as a node of a replicated cluster described by this TOML file "
                "(docs/cluster.md); its data_dir and listen replace --data-dir and --bind/--port");

  std::string data_dir = "./data", name, country;
  auto* tenant = app.add_subcommand("tenant", "Manage tenants");
  tenant->require_subcommand(1);
  auto* create = tenant->add_subcommand("create", "Create a tenant and print its credentials");
  create->add_option("--data-dir", data_dir, "Data directory of the running server")
      ->capture_default_str();
  create->add_option("--name", name, "Organization name")->required();
  create->add_option("--country", country, "ISO 3166-1 alpha-2 country code")->required();

  std::string tenant_name;
  auto* restore = tenant->add_subcommand(
      "restore-admin",
      "Break-glass: add a new Global Administrator (one-time password) to a tenant that has "
      "lost its administrators; audited as the operator's");
  restore->add_option("--data-dir", data_dir, "Data directory of the running server")
      ->capture_default_str();
  restore->add_option("--tenant", tenant_name, "Tenant id or verified domain")->required();

  auto* residency = app.add_subcommand("residency", "Where tenants' data lives");
  residency->require_subcommand(1);
  auto* report = residency->add_subcommand(
      "report",
      "Print (JSON) every tenant's region and partition, the nodes that hold it (datacenter, "
      "role) and where each partition's files are; any node of a cluster answers");
  report->add_option("--data-dir", data_dir, "Data directory of the running server or node")
      ->capture_default_str();

  std::string certs_dir;
  std::vector<std::string> cert_nodes, cert_hosts;
  auto* cluster = app.add_subcommand("cluster", "Manage the replicated cluster");
  cluster->require_subcommand(1);
  auto* certs = cluster->add_subcommand(
      "certs", "Create (or reuse) the cluster CA in DIR and write a certificate for each node");
  certs->add_option("--out", certs_dir, "Directory of the CA and the node certificates")
      ->required();
  certs->add_option("--node", cert_nodes, "Node id (repeatable)")->required();
  certs->add_option("--host", cert_hosts,
                    "Host name or IP address every node certificate also names (repeatable)");

  std::string move_partition, move_to;
  auto* move = cluster->add_subcommand(
      "move-primary",
      "Planned failover: hand a partition's primary to a caught-up secondary (writes pause briefly)");
  move->add_option("--data-dir", data_dir, "Data directory of a running node")->capture_default_str();
  move->add_option("--partition", move_partition, "Partition id, e.g. emea-1")->required();
  move->add_option("--to", move_to, "Node id of the new primary")->required();

  std::string kek_out;
  auto* kek = app.add_subcommand("kek", "Manage the key-encryption key");
  kek->require_subcommand(1);
  auto* kek_create = kek->add_subcommand(
      "create",
      "Write a new key-encryption key (owner-only) for --kek-file or a cluster's kek_file; "
      "refuses to overwrite a file");
  kek_create->add_option("--out", kek_out, "File to write")->required();

  CLI11_PARSE(app, argc, argv);
  if (s->parsed()) {
    if (const char* env = std::getenv(server::kKekVariable)) serve.kek_env = env;
    if (!config_file.empty()) {
      std::string listen = serve.bind_address + ":" + std::to_string(serve.port);
      auto cluster = server::LoadClusterConfig(config_file, &serve.data_dir, &listen);
      if (!cluster.ok()) {
        std::cerr << cluster.status().message() << std::endl;
        return 2;
      }
      size_t colon = listen.rfind(':');
      serve.bind_address = listen.substr(0, colon);
      serve.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
      serve.cloud = cluster->cloud;
      serve.public_url = cluster->public_url;
      if (!serve.kek_file.empty() && !cluster->kek_file.empty()) {
        std::cerr << "--kek-file and the configuration's kek_file are both given: give one"
                  << std::endl;
        return 2;
      }
      serve.cluster = std::move(*cluster);
      Status read = server::ReadPasswordOptions(config_file, &passwords);
      if (!read.ok()) {
        std::cerr << read.message() << std::endl;
        return 2;
      }
    }
    auto hashing = server::ToPasswordHashing(passwords);
    if (!hashing.ok()) {
      std::cerr << hashing.status().message() << std::endl;
      return 2;
    }
    serve.password_hashing = *hashing;
    return Serve(serve);
  }
  if (create->parsed()) {
    return OperatorRequest(data_dir, "POST", "/operator/v1/tenants",
                           {{"displayName", name}, {"countryLetterCode", country}}, 201);
  }
  if (restore->parsed()) {
    std::string path = "/operator/v1/tenants/" + tenant_name + "/restoreAdministrator";
    for (char c : tenant_name) {
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
        std::cerr << "--tenant must be a tenant id or a domain name" << std::endl;
        return 2;
      }
    }
    return OperatorRequest(data_dir, "POST", path, json::object{}, 201);
  }
  if (report->parsed()) {
    return OperatorRequest(data_dir, "GET", "/operator/v1/residency", json::object{}, 200, true);
  }
  if (move->parsed()) {
    for (char c : move_partition) {
      if (!isalnum(static_cast<unsigned char>(c)) && c != '-') {
        std::cerr << "--partition must be a partition id" << std::endl;
        return 2;
      }
    }
    return OperatorRequest(data_dir, "POST",
                           "/operator/v1/partitions/" + move_partition + "/movePrimary",
                           json::object{{"to", move_to}}, 200);
  }
  if (kek_create->parsed()) {
    if (std::filesystem::exists(kek_out)) {
      std::cerr << kek_out << " exists: a key-encryption key is never overwritten" << std::endl;
      return 1;
    }
    std::string text = crypto::Kek::Generate(*SecureRandom::Default()).ToText() + "\n";
    Status w = crypto::WritePrivateFile(kek_out, text);
    crypto::Wipe(text);
    if (!w.ok()) {
      std::cerr << w.ToString() << std::endl;
      return 1;
    }
    std::cout << "wrote " << kek_out
              << " (a key-encryption key: give the same one to every node, keep a copy apart "
                 "from the data)"
              << std::endl;
    return 0;
  }
  if (certs->parsed()) {
    auto written = rpc::MakeClusterCertificates(certs_dir, cert_nodes, cert_hosts);
    if (!written.ok()) {
      std::cerr << written.status().ToString() << std::endl;
      return 1;
    }
    for (const std::string& line : *written) std::cout << line << std::endl;
    // The operator key every node of the cluster accepts (meridian tenant create).
    std::filesystem::path op_key = std::filesystem::path(certs_dir) / "operator.key";
    if (!std::filesystem::exists(op_key)) {
      Status w = crypto::WritePrivateFile(op_key.string(),
                                          Base64UrlEncode(SecureRandom::Default()->Bytes(32)));
      if (!w.ok()) {
        std::cerr << w.ToString() << std::endl;
        return 1;
      }
      std::cout << "wrote " << op_key.string() << " (the operator key)" << std::endl;
    }
    return 0;
  }
  return 1;
}
