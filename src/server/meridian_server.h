// MeridianServer: one process of Meridian: the directory, the token service, the Graph API,
// health and metrics, behind one HTTPS listener. On the embedded default it holds every partition
// of the configured cloud on one data directory; as a cluster node (ServeOptions::cluster) the
// partitions of its region, replicated, with a Gateway that sends each request where it can run.
// `meridian serve` runs one; tests start one in-process.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/status.h"
#include "crypto/password.h"
#include "server/cluster_node.h"

namespace meridian::server {

struct ServeOptions {
  std::string data_dir = "./data";
  std::string bind_address = "127.0.0.1";
  uint16_t port = 8443;  // 0 picks a free port (tests)
  int threads = 0;       // 0: one per core
  std::string public_url;  // default https://localhost:<port>
  std::string cloud = "global";
  int partitions_per_region = 2;
  std::string first_tenant_name = "Meridian";
  std::string first_tenant_country = "US";
  crypto::PasswordHashing password_hashing;  // PBKDF2 at 600,000 iterations by default
  bool sync = true;
  // The key-encryption key that seals the signing keys (server/kek_config.h): a file, or the
  // value of MERIDIAN_KEK; neither: the embedded default's own <data_dir>/kek.key (made on first
  // start), while a cluster node must be given one (ClusterOptions::kek_file or the variable).
  std::string kek_file;
  std::optional<std::string> kek_env;
  // How often the token service reloads the signing keys and makes the next one when due.
  int key_refresh_seconds = 60;
  // A cluster node (`meridian serve --config node.toml`): the partitions of its region and the
  // global one, replicated through etcd's configurations; no first tenant is made.
  std::optional<ClusterOptions> cluster;
};

class MeridianServer {
 public:
  ~MeridianServer();
  // Opens the data directory (creating it, a development TLS certificate, the key-encryption key
  // unless one is given, the signing key and a first tenant on first start) and starts
  // listening.
  static Result<std::unique_ptr<MeridianServer>> Start(const ServeOptions& options);
  uint16_t port() const;
  const std::string& public_url() const;
  // Path of the first tenant's credentials file, when this start created it; else empty.
  const std::string& first_tenant_file() const;
  void Stop();

  struct Impl;

 private:
  explicit MeridianServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace meridian::server
