// The deployment's token-signing keys as the global partition stores them (G/k/<kid>, a
// serialized proto::SigningKey): their order, which is the rotation schedule's (auth/
// key_schedule.h), the read of all of them, and the apply of the op that adds a key or seals
// one an earlier version stored in plaintext.
//
// Stateless functions; the apply is deterministic (it reads only the op and the state).
#pragma once

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "meridian/op.pb.h"
#include "store/partition.h"

namespace meridian::directory {

// When `key` starts signing: signs_from_ms, or created_ms for a key of an earlier version.
int64_t SignsFrom(const proto::SigningKey& key);

// The schedule's order: by SignsFrom, then created_ms, then kid. The last key is the newest.
bool SigningKeyBefore(const proto::SigningKey& a, const proto::SigningKey& b);

// Every stored key, in SigningKeyBefore order. Internal when one cannot be decoded: a key is
// never skipped (a deployment that minted a replacement would invalidate every token).
Result<std::vector<proto::SigningKey>> ReadSigningKeys(const store::ReadView& view);

// Applies a SigningKey op:
//   - seals_stored: the stored record of `kid` must hold a plaintext PEM (NotFound when there is
//     no such record, FailedPrecondition when it is sealed already) and the op must carry the
//     sealed key and nothing in clear (InvalidArgument); the record then holds the sealed key in
//     place of the PEM, all else unchanged;
//   - with follows_kid: `kid` must be new (AlreadyExists), and the newest stored key must be
//     follows_kid, or none when it is empty (FailedPrecondition: another process added a key);
//     the op's record is stored;
//   - otherwise (an op of an earlier version): the record is stored, as it always was.
Status ApplySigningKey(const proto::SigningKey& op, store::WriteContext* ctx);

}  // namespace meridian::directory
