// The cluster CA and the node certificates that authenticate node-to-node gRPC (mutual TLS): one
// directory holds ca.pem and ca.key (the CA) and <node>.pem and <node>.key for each node; private
// keys are written with mode 0600. Stateless functions, safe from any thread; two processes
// writing the same directory at once are not coordinated.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "crypto/tls_cert.h"

namespace meridian::rpc {

inline constexpr char kCaCertFile[] = "ca.pem";
inline constexpr char kCaKeyFile[] = "ca.key";
inline constexpr int kCaValidityDays = 3650;
inline constexpr int kNodeValidityDays = 730;

// The cluster CA of `dir`: loaded from ca.pem and ca.key when both exist (never overwritten),
// made (EC P-256, CA:TRUE, 10 years) and written when neither does; `created` says which.
// The directory is created if missing. FailedPrecondition when only one of the two files exists;
// InvalidArgument when they do not parse, do not belong together or are not a CA; Internal on an
// I/O failure.
struct ClusterCa {
  crypto::CertificateAndKey ca;
  bool created = false;
};
Result<ClusterCa> LoadOrCreateClusterCa(const std::string& dir);

// A certificate for node `node_id` signed by `ca`: subjectAltName DNS:<node_id>, then each of
// `hosts` (an IP address as IP, anything else as DNS), then DNS:localhost and IP:127.0.0.1; EKU
// serverAuth and clientAuth; valid for kNodeValidityDays. A peer dials a node by its id (the TLS
// target name), so the id must be a host name. InvalidArgument when the id is not a host name or
// is "ca", a host is neither an IP address nor a host name, or `ca` is not a usable CA.
Result<crypto::CertificateAndKey> IssueNodeCertificate(const crypto::CertificateAndKey& ca,
                                                       const std::string& node_id,
                                                       const std::vector<std::string>& hosts);

// Writes `cert` as <dir>/<node_id>.pem and its key as <dir>/<node_id>.key (0600), replacing
// what was there. Returns the two paths. Internal on an I/O failure.
struct NodeCertificateFiles {
  std::string cert_file;
  std::string key_file;
};
Result<NodeCertificateFiles> WriteNodeCertificate(const std::string& dir,
                                                  const std::string& node_id,
                                                  const crypto::CertificateAndKey& cert);

// What a node presents and trusts on its gRPC connections, all PEM.
struct NodeCredentials {
  std::string ca_pem;    // the cluster CA: the only root a peer's certificate may chain to
  std::string cert_pem;  // this node's certificate
  std::string key_pem;   // its private key; secret
};

// Reads ca.pem, <node_id>.pem and <node_id>.key from `dir`. NotFound when a file is missing,
// Internal when one cannot be read.
Result<NodeCredentials> LoadNodeCredentials(const std::string& dir, const std::string& node_id);

// `meridian cluster certs`: the CA of `dir` (LoadOrCreateClusterCa), then a certificate for each
// of `node_ids` with `hosts` (IssueNodeCertificate, WriteNodeCertificate). Returns a line per
// file written or reused, for the operator. Fails on the first error, with what was written so
// far left in place.
Result<std::vector<std::string>> MakeClusterCertificates(const std::string& dir,
                                                         const std::vector<std::string>& node_ids,
                                                         const std::vector<std::string>& hosts);

}  // namespace meridian::rpc
