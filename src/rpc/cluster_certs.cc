#include "rpc/cluster_certs.h"

#include <arpa/inet.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

namespace meridian::rpc {
namespace {

namespace fs = std::filesystem;

bool IsIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void AddOnce(std::vector<std::string>* names, const std::string& name) {
  if (std::find(names->begin(), names->end(), name) == names->end()) names->push_back(name);
}

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound(path.string() + " does not exist");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in.good() && !in.eof()) return Internal("cannot read " + path.string());
  return out.str();
}

// A certificate is public: written with the default mode, then synced by closing the stream.
Status WritePublicFile(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  out.close();
  if (!out) return Internal("cannot write " + path.string());
  return Status::Ok();
}

// A node id names its files and is the TLS name peers expect: "ca" would clash with the CA's
// files, a wildcard would let one certificate answer for every node. The rest of the host-name
// check is the certificate's own.
Status CheckNodeId(const std::string& id) {
  if (id == "ca" || id.empty() || id.front() == '*' || id.find('/') != std::string::npos) {
    return InvalidArgument("'" + id + "' cannot be a node id");
  }
  return Status::Ok();
}

}  // namespace

Result<ClusterCa> LoadOrCreateClusterCa(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir + ": " + ec.message());
  fs::path cert_file = fs::path(dir) / kCaCertFile;
  fs::path key_file = fs::path(dir) / kCaKeyFile;
  bool has_cert = fs::exists(cert_file), has_key = fs::exists(key_file);
  if (has_cert != has_key) {
    return Status(Code::kFailedPrecondition,
                  "only one of " + cert_file.string() + " and " + key_file.string() +
                      " exists; restore the other or remove both to make a new CA");
  }
  ClusterCa out;
  if (has_cert) {
    MERIDIAN_ASSIGN_OR_RETURN(out.ca.cert_pem, ReadWholeFile(cert_file));
    MERIDIAN_ASSIGN_OR_RETURN(out.ca.key_pem, ReadWholeFile(key_file));
    Status usable = crypto::CheckIssuer(out.ca);
    if (!usable.ok()) return Status(usable.code(), dir + ": " + usable.message());
    return out;
  }
  crypto::CertificateProfile profile;
  profile.common_name = "meridian cluster CA";
  profile.days = kCaValidityDays;
  profile.use = crypto::CertificateProfile::Use::kCertificateAuthority;
  MERIDIAN_ASSIGN_OR_RETURN(out.ca, crypto::IssueCertificate(profile, nullptr));
  // The key first: a CA certificate on disk always has its key beside it.
  MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(key_file.string(), out.ca.key_pem));
  MERIDIAN_RETURN_IF_ERROR(WritePublicFile(cert_file, out.ca.cert_pem));
  out.created = true;
  return out;
}

Result<crypto::CertificateAndKey> IssueNodeCertificate(const crypto::CertificateAndKey& ca,
                                                       const std::string& node_id,
                                                       const std::vector<std::string>& hosts) {
  MERIDIAN_RETURN_IF_ERROR(CheckNodeId(node_id));
  crypto::CertificateProfile profile;
  profile.common_name = node_id;
  profile.days = kNodeValidityDays;
  profile.use = crypto::CertificateProfile::Use::kTlsPeer;
  profile.dns_names.push_back(node_id);
  for (const std::string& host : hosts) {
    AddOnce(IsIpAddress(host) ? &profile.ip_addresses : &profile.dns_names, host);
  }
  AddOnce(&profile.dns_names, "localhost");
  AddOnce(&profile.ip_addresses, "127.0.0.1");
  return crypto::IssueCertificate(profile, &ca);
}

Result<NodeCertificateFiles> WriteNodeCertificate(const std::string& dir,
                                                  const std::string& node_id,
                                                  const crypto::CertificateAndKey& cert) {
  NodeCertificateFiles files;
  files.cert_file = (fs::path(dir) / (node_id + ".pem")).string();
  files.key_file = (fs::path(dir) / (node_id + ".key")).string();
  MERIDIAN_RETURN_IF_ERROR(crypto::WritePrivateFile(files.key_file, cert.key_pem));
  MERIDIAN_RETURN_IF_ERROR(WritePublicFile(files.cert_file, cert.cert_pem));
  return files;
}

Result<NodeCredentials> LoadNodeCredentials(const std::string& dir, const std::string& node_id) {
  NodeCredentials out;
  MERIDIAN_ASSIGN_OR_RETURN(out.ca_pem, ReadWholeFile(fs::path(dir) / kCaCertFile));
  MERIDIAN_ASSIGN_OR_RETURN(out.cert_pem, ReadWholeFile(fs::path(dir) / (node_id + ".pem")));
  MERIDIAN_ASSIGN_OR_RETURN(out.key_pem, ReadWholeFile(fs::path(dir) / (node_id + ".key")));
  return out;
}

Result<std::vector<std::string>> MakeClusterCertificates(const std::string& dir,
                                                         const std::vector<std::string>& node_ids,
                                                         const std::vector<std::string>& hosts) {
  if (node_ids.empty()) return InvalidArgument("name at least one node");
  // Every id is checked before anything is written.
  for (const std::string& id : node_ids) {
    MERIDIAN_RETURN_IF_ERROR(CheckNodeId(id));
  }
  MERIDIAN_ASSIGN_OR_RETURN(ClusterCa ca, LoadOrCreateClusterCa(dir));
  std::vector<std::string> lines;
  std::string ca_file = (fs::path(dir) / kCaCertFile).string();
  lines.push_back((ca.created ? "created CA " : "reused CA ") + ca_file + " (key " +
                  (fs::path(dir) / kCaKeyFile).string() + ")");
  for (const std::string& id : node_ids) {
    MERIDIAN_ASSIGN_OR_RETURN(crypto::CertificateAndKey cert,
                              IssueNodeCertificate(ca.ca, id, hosts));
    MERIDIAN_ASSIGN_OR_RETURN(NodeCertificateFiles files, WriteNodeCertificate(dir, id, cert));
    lines.push_back("wrote node " + id + ": " + files.cert_file + " (key " + files.key_file + ")");
  }
  return lines;
}

}  // namespace meridian::rpc
