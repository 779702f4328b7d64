// Replica: one node's copy of one partition, and the protocol (PacificA's primary/backup
// replication of the op log) that keeps the copies equal.
//
// Roles come from the partition's configuration in the ConfigStore (etcd), which changes only by
// compare-and-swap and whose epoch grows with every change:
//   - the primary takes every write. Propose() builds the op on the primary's latest state,
//     appends it, and streams it to every other member. The op commits, and its proposer is told,
//     once it is durable on the primary and on every member of the sync set (at least one of them
//     in another datacenter). Reads on the primary see only committed ops.
//   - secondaries (sync or not) append what the primary sends, once the entry before it matches
//     (lsn, epoch), and apply only what the primary says is committed: a secondary never holds in
//     its state an op that could still be lost, so everything it serves survives a datacenter.
//   - candidates are catching up (from the log, or from a checkpoint when the primary has trimmed
//     the entries they need) and serve nothing until the primary makes them secondaries.
//
// Fencing: every message carries the sender's epoch; a replica refuses an older one, and a
// primary that meets a newer one steps down. A lapsed etcd lease is only how the Controller
// notices a dead primary; safety rests on the epochs: a deposed primary that still runs can no
// longer get an entry acknowledged by a sync member that has seen the new epoch, and the new
// primary was a member of the old sync set, so it holds every acknowledged op.
//
// A new primary first brings every sync member to its log end (reconciliation) and only then
// takes writes. A replica whose log diverges from the new primary's (a deposed primary's
// unacknowledged tail) truncates the divergent entries, or installs a checkpoint when they were
// already applied; it never keeps them.
//
// Threading: everything but Propose() and the read accessors runs on the node's Loop. Propose()
// is thread-safe; its `done` runs on the loop. The accessors read atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "meridian/replication.pb.h"
#include "replication/config_store.h"
#include "replication/loop.h"
#include "replication/placement.h"
#include "replication/replica_store.h"
#include "replication/transport.h"

namespace meridian::replication {

enum class Role { kNone, kCandidate, kSecondary, kSync, kPrimary };
const char* RoleName(Role role);
Role RoleIn(const proto::PartitionConfig& config, const std::string& node);

// The graph_code of Propose's refusal when this replica is not a primary taking writes: the op
// was never logged, so the request can safely run again where the primary is.
inline constexpr char kNotPrimary[] = "NotPrimary";

// Where an acknowledged write sits: what a replica token names.
struct Commit {
  uint64_t lsn = 0;
  uint64_t epoch = 0;
};

struct ReplicaOptions {
  std::string node;
  std::string partition;
  int64_t heartbeat_ms = 50;      // the primary's idle message to each member, carrying the commit
  int64_t retry_ms = 20;          // after a failed send
  int64_t config_poll_ms = 100;   // how often the configuration is read
  int64_t sync_timeout_ms = 1000; // a sync member silent this long while entries wait is replaced
  size_t max_batch_bytes = 1 << 20;
  // Entries kept in the log behind the commit point, for members that fall behind; a member that
  // needs older ones gets a checkpoint.
  uint64_t log_retention = 100'000;
  // A candidate within this many entries of the log end (holding everything committed) becomes a
  // secondary; the rest it catches up as one.
  uint64_t max_catch_up_gap = 1000;
};

class Replica {
 public:
  Replica(ReplicaOptions options, ReplicaStore* store, Loop* loop, Transport* transport,
          ConfigStore* config);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // Starts reading the configuration and acting on it. On the loop.
  void Start();

  // The write path, from any thread. Fails at once with kUnavailable when this replica is not a
  // primary taking writes (not primary, reconciling, moving the primary elsewhere, or without a
  // sync secondary); with the builder's error when it rejects the op. Otherwise `done` runs on
  // the loop once the op commits, or with kUnavailable when this replica stops being primary
  // first (the op's fate is then unknown: it commits if the new primary holds it).
  using Done = std::function<void(Result<Commit>)>;
  void Propose(const ReplicaStore::Builder& build, Done done);

  // Planned failover, on the loop: stops taking writes, waits until `target` (a sync member) holds
  // every entry and every entry is committed, then hands it the primary under a new epoch. Fails
  // with kFailedPrecondition when this replica is not primary or `target` is not a sync member, and
  // with kUnavailable when the target does not catch up within `timeout_ms` (writes resume).
  void TransferPrimary(const std::string& target, int64_t timeout_ms, std::function<void(Status)> done);

  // The Service side, on the loop.
  void HandleAppend(const proto::AppendRequest& request,
                    std::function<void(proto::AppendResponse)> reply);
  proto::ReplicaStatus HandleStatus() const;
  void HandleFetchCheckpoint(const proto::CheckpointRequest& request,
                             Reply<std::unique_ptr<CheckpointReader>> reply);

  // Thread-safe snapshots of where the replica stands.
  Role role() const { return role_.load(); }
  uint64_t epoch() const { return epoch_pub_.load(); }
  // Reads see the state through this LSN, every entry of which is committed.
  uint64_t visible_lsn() const { return visible_pub_.load(); }
  // Whether reads may be served at all (false after a checkpoint install until the commit point
  // reaches the checkpoint's position).
  bool readable() const { return readable_.load(); }
  uint64_t committed_lsn() const { return committed_pub_.load(); }
  // Whether Propose() would be accepted now.
  bool accepting_writes() const { return accepting_epoch_.load() != 0; }
  uint64_t failovers() const { return failovers_.load(); }
  // When (loop clock) this replica last took an append from a primary of its epoch: a secondary
  // that has not heard from one lately may be far behind without knowing it.
  int64_t last_heard_ms() const { return heard_ms_.load(); }
  const std::string& node() const { return options_.node; }
  const std::string& partition() const { return options_.partition; }

 private:
  struct Peer {
    uint64_t next = 1;       // the next entry to send
    uint64_t match = 0;      // entries through this are durable on the peer and equal to ours
    bool inflight = false;
    bool installing = false; // the peer said it is installing a checkpoint
    bool acked = false;      // it has answered OK in this tenure
    int64_t last_ack_ms = 0;
  };
  struct WaitingReply {
    uint64_t epoch;
    uint64_t match_end;
    std::function<void(proto::AppendResponse)> reply;
  };
  struct Transfer {
    std::string target;
    int64_t deadline_ms;
    std::function<void(Status)> done;
    bool swapping = false;
  };

  // Posts `fn` onto the loop, dropped if this replica is gone by then.
  void Post(std::function<void()> fn);
  void PostAfter(int64_t delay_ms, std::function<void()> fn);

  void PollConfig(bool periodic = false);
  void PollNodes();
  void OnConfig(const VersionedConfig& vc);
  void ObserveEpoch(uint64_t epoch);
  void ClaimPrimacy();
  void BecomePrimary();
  void StepDown(const std::string& why);
  void SetAccepting(bool accepting);
  void Publish();

  // Primary.
  void OnProposed(uint64_t lsn, uint64_t tenure, Done done);
  void SendTo(const std::string& peer);
  void OnAppendReply(const std::string& peer, uint64_t tenure, uint64_t prev, uint64_t last,
                     Result<proto::AppendResponse> r);
  void Heartbeat(uint64_t tenure);
  void AdvanceCommit();
  void CheckMembers();
  void ChangeConfig(proto::PartitionConfig next, const std::string& why);
  void FailPending(const std::string& why);
  void ContinueTransfer();
  void FinishTransfer(Status s);

  // Every role.
  void MaybeSync();
  void OnSynced(Result<uint64_t> durable);
  void ApplyCommitted();
  void UpdateVisible();
  void AnswerWaitingReplies();
  void FailWaitingReplies();
  void FetchCheckpoint(const std::string& from);
  void TrimLog();

  const ReplicaOptions options_;
  ReplicaStore* const store_;
  Loop* const loop_;
  Transport* const transport_;
  ConfigStore* const config_store_;
  std::shared_ptr<bool> alive_;

  // Loop state.
  proto::PartitionConfig config_;
  int64_t config_revision_ = 0;
  NodeMap nodes_;             // the live nodes, as last read
  uint64_t epoch_ = 0;        // the highest epoch seen
  Role my_role_ = Role::kNone;
  uint64_t committed_ = 0;    // entries through this are committed (never beyond what we hold)
  uint64_t durable_ = 0;      // our own log is durable through this
  bool sync_inflight_ = false;
  bool storage_failed_ = false;
  std::vector<WaitingReply> waiting_replies_;
  bool installing_ = false;

  // Primary only. `tenure_` numbers the periods in which this replica is primary, so that replies
  // and timers of an earlier period are recognised and dropped.
  uint64_t tenure_ = 0;
  uint64_t claimed_epoch_ = 0;  // the last epoch this replica created to be primary in
  bool primary_ = false;
  bool reconciled_ = false;
  uint64_t epoch_start_ = 0;  // our log end when we became primary
  std::map<std::string, Peer> peers_;
  std::map<uint64_t, Done> pending_;
  bool config_change_inflight_ = false;
  std::vector<std::string> joining_sync_;  // sync members the change in flight adds
  uint64_t open_applied_ = 0;              // applied when this replica started
  std::string stall_reason_;
  std::unique_ptr<Transfer> transfer_;

  // Propose() from other threads: it reads accepting_epoch_ and proposes under propose_mu_, and
  // the loop changes accepting_epoch_ under it, so no op is proposed after a step-down.
  std::mutex propose_mu_;
  std::atomic<uint64_t> accepting_epoch_{0};
  uint64_t accepting_tenure_ = 0;  // guarded by propose_mu_

  std::atomic<Role> role_{Role::kNone};
  std::atomic<uint64_t> epoch_pub_{0};
  std::atomic<uint64_t> visible_pub_{0};
  std::atomic<uint64_t> committed_pub_{0};
  std::atomic<uint64_t> failovers_{0};
  std::atomic<bool> readable_{false};
  std::atomic<int64_t> heard_ms_{0};
};

}  // namespace meridian::replication
