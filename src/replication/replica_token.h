// Replica tokens: read-your-writes across nodes. Every write response carries one, naming where
// the write sits (partition, epoch, LSN); a read that sends it back is answered only by a
// replica that has applied that LSN (replication/replica.h: visible_lsn). Tokens are MAC'd with a
// secret of the deployment, so a forged or foreign one is refused rather than trusted: a client
// cannot name an LSN that does not exist and make a replica wait for it.
//
// Wire form (HTTP header kReplicaTokenHeader): "1.<partition>.<epoch>.<lsn>.<mac>", the MAC
// HMAC-SHA256 over the rest, base64url, truncated to 128 bits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace meridian::replication {

inline constexpr char kReplicaTokenHeader[] = "x-meridian-replica-token";

struct ReplicaToken {
  std::string partition;
  uint64_t epoch = 0;
  uint64_t lsn = 0;
};

std::string EncodeReplicaToken(const ReplicaToken& token, std::string_view key);
// InvalidArgument when the token is malformed or its MAC does not verify under `key`.
Result<ReplicaToken> DecodeReplicaToken(std::string_view text, std::string_view key);

}  // namespace meridian::replication
