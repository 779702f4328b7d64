#include "replication/replica.h"

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

#include "replication/placement.h"

namespace meridian::replication {
namespace {

bool Contains(const google::protobuf::RepeatedPtrField<std::string>& list, const std::string& s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

void Remove(google::protobuf::RepeatedPtrField<std::string>* list, const std::string& s) {
  auto it = std::find(list->begin(), list->end(), s);
  if (it != list->end()) list->erase(it);
}

std::vector<std::string> Members(const proto::PartitionConfig& c) {
  std::vector<std::string> out;
  for (const auto& n : c.sync()) out.push_back(n);
  for (const auto& n : c.secondaries()) out.push_back(n);
  for (const auto& n : c.candidates()) out.push_back(n);
  return out;
}

proto::AppendResponse Answer(proto::AppendResponse::Result result, uint64_t epoch,
                             uint64_t durable = 0, uint64_t hint = 0, std::string message = {}) {
  proto::AppendResponse r;
  r.set_result(result);
  r.set_epoch(epoch);
  r.set_durable_lsn(durable);
  r.set_hint_lsn(hint);
  r.set_message(std::move(message));
  return r;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone: return "none";
    case Role::kCandidate: return "candidate";
    case Role::kSecondary: return "secondary";
    case Role::kSync: return "sync";
    case Role::kPrimary: return "primary";
  }
  return "none";
}

Role RoleIn(const proto::PartitionConfig& c, const std::string& node) {
  if (c.primary() == node) return Role::kPrimary;
  if (Contains(c.sync(), node)) return Role::kSync;
  if (Contains(c.secondaries(), node)) return Role::kSecondary;
  if (Contains(c.candidates(), node)) return Role::kCandidate;
  return Role::kNone;
}

Replica::Replica(ReplicaOptions options, ReplicaStore* store, Loop* loop, Transport* transport,
                 ConfigStore* config)
    : options_(std::move(options)),
      store_(store),
      loop_(loop),
      transport_(transport),
      config_store_(config),
      alive_(std::make_shared<bool>(true)) {
  durable_ = store_->durable_end();
  // What the replica knew to be committed when it stopped; a primary that crashed may also hold
  // an unacknowledged tail beyond it, and a checkpoint installed ahead of the commit point has
  // its base beyond it: reads see neither.
  committed_ = store_->visible();
  // After a restart the store shows everything it applied (no older snapshot survives), which may
  // hold a crashed primary's unacknowledged tail: nothing is readable until that is committed.
  open_applied_ = store_->applied();
  UpdateVisible();
}

Replica::~Replica() { *alive_ = false; }

void Replica::Post(std::function<void()> fn) {
  std::weak_ptr<bool> alive = alive_;
  loop_->Post([alive, fn = std::move(fn)] {
    if (auto a = alive.lock(); a && *a) fn();
  });
}

void Replica::PostAfter(int64_t delay_ms, std::function<void()> fn) {
  std::weak_ptr<bool> alive = alive_;
  loop_->PostAfter(delay_ms, [alive, fn = std::move(fn)] {
    if (auto a = alive.lock(); a && *a) fn();
  });
}

void Replica::Start() {
  PollNodes();
  PollConfig(/*periodic=*/true);
}

void Replica::Publish() {
  // State installed from a checkpoint may hold entries not yet committed, and no older state to
  // show instead: nothing is readable until the commit point reaches it.
  readable_.store(committed_ >= std::max(store_->base(), open_applied_));
  // Named primary by a configuration it has not yet claimed, or deposed by a newer epoch it has
  // not yet read: it acts as nothing.
  role_.store(my_role_ == Role::kPrimary && !primary_ ? Role::kNone : my_role_);
  epoch_pub_.store(epoch_);
  committed_pub_.store(committed_);
}

// ---------------------------------------------------------------------------------------------
// Configuration

// Reads the configuration now; with `periodic`, again every config_poll_ms (Start begins the one
// periodic chain; the other callers want one read sooner than the next poll).
void Replica::PollConfig(bool periodic) {
  config_store_->Get(options_.partition, [this, periodic, alive = std::weak_ptr<bool>(alive_)](
                                             Result<VersionedConfig> r) {
    if (alive.expired()) return;
    Post([this, periodic, r = std::move(r)] {
      if (r.ok()) OnConfig(*r);
      if (periodic) PostAfter(options_.config_poll_ms, [this] { PollConfig(true); });
    });
  });
}

void Replica::PollNodes() {
  config_store_->LiveNodes([this, alive = std::weak_ptr<bool>(alive_)](
                               Result<std::vector<proto::NodeInfo>> r) {
    if (alive.expired()) return;
    Post([this, r = std::move(r)] {
      if (r.ok()) {
        nodes_.clear();
        for (const auto& n : *r) nodes_[n.id()] = n;
      }
      PostAfter(options_.config_poll_ms * 5, [this] { PollNodes(); });
    });
  });
}

void Replica::OnConfig(const VersionedConfig& vc) {
  if (vc.revision == 0) return;
  const proto::PartitionConfig& c = vc.config;
  bool fresh = c.epoch() > epoch_ || (c.epoch() == epoch_ && vc.revision > config_revision_);
  if (fresh) {
    config_ = c;
    config_revision_ = vc.revision;
    ObserveEpoch(c.epoch());
    my_role_ = RoleIn(c, options_.node);
  }
  // Act on the newest configuration held, even when this one brought nothing new: a claim of
  // the primary may complete after a poll has already shown its result.
  bool current = config_.epoch() == epoch_;
  if (my_role_ == Role::kPrimary && !primary_ && current) {
    if (config_.epoch() == claimed_epoch_) {
      BecomePrimary();
    } else {
      ClaimPrimacy();
    }
  } else if (primary_ && (my_role_ != Role::kPrimary || !current)) {
    StepDown("configuration " + std::to_string(config_.epoch()) + " names " + config_.primary());
  } else if (primary_ && fresh) {
    // Still primary (a change this primary made, or one it learns again): track the members.
    std::set<std::string> members;
    for (const auto& m : Members(config_)) {
      members.insert(m);
      if (!peers_.count(m)) {
        peers_[m].next = store_->log_end() + 1;
        peers_[m].last_ack_ms = loop_->NowMillis();
      }
    }
    for (auto it = peers_.begin(); it != peers_.end();) {
      it = members.count(it->first) ? std::next(it) : peers_.erase(it);
    }
    AdvanceCommit();
  }
  Publish();
}

// A newer epoch exists: whatever this replica was doing under an older one is over.
void Replica::ObserveEpoch(uint64_t epoch) {
  if (epoch <= epoch_) return;
  epoch_ = epoch;
  if (primary_ && config_.epoch() < epoch) StepDown("saw epoch " + std::to_string(epoch));
  // Replies promised under the old epoch are withdrawn: the sender is no longer primary.
  FailWaitingReplies();
  Publish();
}

void Replica::SetAccepting(bool accepting) {
  std::lock_guard<std::mutex> lock(propose_mu_);
  accepting_epoch_.store(accepting ? epoch_ : 0);
  accepting_tenure_ = tenure_;
}

// A primary proposes only under an epoch it created itself, by compare-and-swap, in this
// incarnation: a primary that crashed and restarts under the configuration that named it before
// would otherwise log new entries under (lsn, epoch) pairs its earlier self may already have sent
// with other contents, and a replica could not tell them apart.
void Replica::ClaimPrimacy() {
  if (config_change_inflight_) return;
  proto::PartitionConfig next = config_;
  next.set_epoch(config_.epoch() + 1);
  config_change_inflight_ = true;
  config_store_->CompareAndSwap(
      options_.partition, config_revision_, next,
      [this, alive = std::weak_ptr<bool>(alive_), next](Result<int64_t> r) {
        if (alive.expired()) return;
        Post([this, next, r] {
          config_change_inflight_ = false;
          if (!r.ok()) {
            spdlog::info("partition {}: {} could not claim epoch {}: {}", options_.partition,
                         options_.node, next.epoch(), r.status().ToString());
            return PollConfig();
          }
          claimed_epoch_ = next.epoch();
          OnConfig(VersionedConfig{next, *r});
        });
      });
}

void Replica::BecomePrimary() {
  primary_ = true;
  reconciled_ = false;
  ++tenure_;
  failovers_.fetch_add(1);
  stall_reason_.clear();
  peers_.clear();
  spdlog::info("partition {}: {} becomes primary at epoch {} (log end {})", options_.partition,
               options_.node, epoch_, store_->log_end());
  // Our whole log becomes the partition's history: make it durable and applied, then bring every
  // member to its end (reconciliation) before taking writes.
  uint64_t tenure = tenure_;
  epoch_start_ = store_->log_end();
  for (const auto& m : Members(config_)) {
    peers_[m].next = epoch_start_ + 1;
    peers_[m].last_ack_ms = loop_->NowMillis();
  }
  auto result = std::make_shared<Result<uint64_t>>(Status(Code::kInternal, "not synced"));
  loop_->Offload(
      [this, result] {
        *result = store_->Sync();
        if (!result->ok()) return;
        Status applied = store_->ApplyThrough(**result);
        if (!applied.ok()) *result = applied;
      },
      [this, tenure, result, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.expired() || tenure != tenure_ || !primary_) return;
        if (!result->ok()) return OnSynced(std::move(*result));
        durable_ = std::max(durable_, **result);
        for (auto& [name, peer] : peers_) SendTo(name);
        AdvanceCommit();
        Heartbeat(tenure);
      });
}

void Replica::StepDown(const std::string& why) {
  if (!primary_) return;
  spdlog::info("partition {}: {} steps down as primary: {}", options_.partition, options_.node,
               why);
  primary_ = false;
  reconciled_ = false;
  SetAccepting(false);
  peers_.clear();
  FailPending("the primary changed before the write committed (" + why + ")");
  if (transfer_) FinishTransfer(Status::Ok());
  // Our own log may now hold entries no one else has; reads stay at what is committed.
  UpdateVisible();
}

void Replica::FailPending(const std::string& why) {
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [lsn, done] : pending) {
    done(Status(Code::kUnavailable,
                "not acknowledged: " + why + "; the write may or may not have been applied"));
  }
}

// ---------------------------------------------------------------------------------------------
// Primary: proposals, replication, commit

void Replica::Propose(const ReplicaStore::Builder& build, Done done) {
  uint64_t lsn = 0, epoch = 0, tenure = 0;
  {
    std::lock_guard<std::mutex> lock(propose_mu_);
    epoch = accepting_epoch_.load();
    tenure = accepting_tenure_;
    if (epoch == 0) {
      std::string why = "partition " + options_.partition + " is not taking writes on " +
                        options_.node;
      Post([done = std::move(done), why] { done(Status(Code::kUnavailable, why, kNotPrimary)); });
      return;
    }
    auto proposed = store_->Propose(epoch, build);
    if (!proposed.ok()) {
      Post([done = std::move(done), s = proposed.status()] { done(s); });
      return;
    }
    lsn = *proposed;
  }
  Post([this, lsn, tenure, done = std::move(done)]() mutable {
    OnProposed(lsn, tenure, std::move(done));
  });
}

void Replica::OnProposed(uint64_t lsn, uint64_t tenure, Done done) {
  if (!primary_ || tenure != tenure_) {
    done(Status(Code::kUnavailable, "not acknowledged: the primary changed before the write "
                                    "committed; the write may or may not have been applied"));
    return;
  }
  pending_[lsn] = std::move(done);
  MaybeSync();
  for (auto& [name, peer] : peers_) SendTo(name);
  AdvanceCommit();
}

void Replica::SendTo(const std::string& name) {
  auto it = peers_.find(name);
  if (!primary_ || it == peers_.end() || it->second.inflight) return;
  Peer& p = it->second;
  proto::AppendRequest req;
  req.set_partition(options_.partition);
  req.set_epoch(epoch_);
  req.set_primary(options_.node);
  req.set_committed_lsn(committed_);
  req.set_log_base(store_->base());
  req.set_log_end(store_->log_end());
  uint64_t prev = std::max(p.next - 1, store_->base());
  prev = std::min(prev, store_->log_end());
  auto prev_epoch = store_->EpochAt(prev);
  if (!prev_epoch.ok()) {
    spdlog::error("partition {}: epoch of {}: {}", options_.partition, prev,
                  prev_epoch.status().ToString());
    return;
  }
  req.set_prev_lsn(prev);
  req.set_prev_epoch(*prev_epoch);
  uint64_t last = prev;
  if (!p.installing && prev < store_->log_end()) {
    std::vector<proto::Op> ops;
    Status read = store_->ReadLog(prev + 1, options_.max_batch_bytes, &ops);
    if (!read.ok()) {
      spdlog::error("partition {}: read log: {}", options_.partition, read.ToString());
      return;
    }
    for (auto& op : ops) *req.add_entries() = std::move(op);
    if (!ops.empty()) last = req.entries(req.entries_size() - 1).lsn();
  }
  p.inflight = true;
  uint64_t tenure = tenure_;
  transport_->Append(name, req,
                     [this, alive = std::weak_ptr<bool>(alive_), name, tenure, prev,
                      last](Result<proto::AppendResponse> r) {
                       if (alive.expired()) return;
                       Post([this, name, tenure, prev, last, r = std::move(r)]() mutable {
                         OnAppendReply(name, tenure, prev, last, std::move(r));
                       });
                     });
}

void Replica::OnAppendReply(const std::string& name, uint64_t tenure, uint64_t prev,
                            uint64_t last, Result<proto::AppendResponse> r) {
  if (!primary_ || tenure != tenure_) return;
  auto it = peers_.find(name);
  if (it == peers_.end()) return;
  Peer& p = it->second;
  p.inflight = false;
  if (!r.ok()) {
    PostAfter(options_.retry_ms, [this, name, tenure] {
      if (tenure == tenure_) SendTo(name);
    });
    return;
  }
  const proto::AppendResponse& resp = *r;
  switch (resp.result()) {
    case proto::AppendResponse::OK:
      p.installing = false;
      p.acked = true;
      p.last_ack_ms = loop_->NowMillis();
      p.match = std::max(p.match, std::min(resp.durable_lsn(), last));
      p.next = std::max(p.next, last + 1);
      AdvanceCommit();
      if (p.next <= store_->log_end()) SendTo(name);
      return;
    case proto::AppendResponse::STALE_EPOCH:
      ObserveEpoch(resp.epoch());
      if (primary_) {
        PostAfter(options_.retry_ms, [this, name, tenure] {
          if (tenure == tenure_) SendTo(name);
        });
      }
      PollConfig();
      return;
    case proto::AppendResponse::MISMATCH:
      p.last_ack_ms = loop_->NowMillis();
      p.next = std::max<uint64_t>(1, std::min(prev, resp.hint_lsn() + 1));
      p.match = std::min(p.match, p.next - 1);
      SendTo(name);
      return;
    case proto::AppendResponse::NEED_CHECKPOINT:
      p.last_ack_ms = loop_->NowMillis();
      p.installing = true;
      p.match = 0;
      p.next = store_->log_end() + 1;
      return;  // the heartbeat probes again
    default:
      PostAfter(options_.retry_ms * 5, [this, name, tenure] {
        if (tenure == tenure_) SendTo(name);
      });
      return;
  }
}

void Replica::Heartbeat(uint64_t tenure) {
  if (!primary_ || tenure != tenure_) return;
  for (auto& [name, peer] : peers_) SendTo(name);
  CheckMembers();
  TrimLog();
  PostAfter(options_.heartbeat_ms, [this, tenure] { Heartbeat(tenure); });
}

// The commit point: durable here and on every sync member. A primary without a sync member
// commits nothing: a write must be durable in two datacenters before it is acknowledged.
void Replica::AdvanceCommit() {
  if (!primary_) return;
  uint64_t c = durable_;
  if (config_.sync_size() == 0) c = committed_;
  // While a change that adds sync members is in flight, they count already: once it lands they
  // may be promoted, and they must then hold everything acknowledged before it.
  std::vector<std::string> sync(config_.sync().begin(), config_.sync().end());
  sync.insert(sync.end(), joining_sync_.begin(), joining_sync_.end());
  for (const auto& s : sync) {
    auto it = peers_.find(s);
    c = std::min(c, it == peers_.end() ? 0 : it->second.match);
  }
  if (c > committed_) {
    committed_ = c;
    UpdateVisible();
    while (!pending_.empty() && pending_.begin()->first <= committed_) {
      auto done = std::move(pending_.begin()->second);
      uint64_t lsn = pending_.begin()->first;
      pending_.erase(pending_.begin());
      auto e = store_->EpochAt(lsn);
      done(Commit{lsn, e.ok() ? *e : epoch_});
    }
  }
  if (!reconciled_ && committed_ >= epoch_start_ && durable_ >= epoch_start_ &&
      config_.sync_size() > 0) {
    reconciled_ = true;
    spdlog::info("partition {}: {} takes writes at epoch {}", options_.partition, options_.node,
                 epoch_);
  }
  bool accept = reconciled_ && !transfer_ && stall_reason_.empty() && config_.sync_size() > 0 &&
                !storage_failed_;
  if (accept != (accepting_epoch_.load() != 0)) SetAccepting(accept);
  Publish();
}

// Replaces a sync member that stopped answering, promotes candidates that caught up, and keeps
// a sync member in another datacenter. Every change goes through a compare-and-swap on the
// configuration this primary holds. The node map is the last one read; a node missing from it
// is not chosen.
void Replica::CheckMembers() {
  if (!primary_ || config_change_inflight_ || transfer_) return;
  int64_t now = loop_->NowMillis();
  auto answering = [&](const Peer& p) { return now - p.last_ack_ms <= options_.sync_timeout_ms; };
  proto::PartitionConfig next = config_;
  std::string why;
  for (const auto& s : config_.sync()) {
    const Peer& p = peers_[s];
    if (p.installing || (p.match < store_->log_end() && !answering(p))) {
      Remove(next.mutable_sync(), s);
      *next.add_candidates() = s;
      why += "sync member " + s + (p.installing ? " needs a checkpoint; " : " silent; ");
    }
  }
  for (const auto& c : config_.candidates()) {
    const Peer& p = peers_[c];
    if (p.acked && !p.installing && answering(p) && p.match >= committed_ &&
        p.match + options_.max_catch_up_gap >= store_->log_end()) {
      Remove(next.mutable_candidates(), c);
      *next.add_secondaries() = c;
      why += c + " caught up; ";
    }
  }
  // A node that joined the region since the placement becomes a candidate, to catch up.
  std::vector<std::string> listed = Members(next);
  std::set<std::string> members(listed.begin(), listed.end());
  members.insert(options_.node);
  for (const auto& [id, n] : nodes_) {
    if (!members.count(id) && MayHold(n, config_.region())) {
      *next.add_candidates() = id;
      why += id + " joins as a candidate; ";
    }
  }
  // A new sync member must hold every committed entry: the next primary is chosen among them.
  if (!HasRemoteSync(next, nodes_)) {
    std::string home = nodes_.count(options_.node) ? nodes_[options_.node].datacenter() : "";
    std::string best;
    for (const auto& s : next.secondaries()) {
      const Peer& p = peers_[s];
      auto n = nodes_.find(s);
      // It must hold our whole log as of our promotion too: entries we had then may have been
      // acknowledged by the previous primary, and the next primary is chosen among the sync set.
      if (n == nodes_.end() || n->second.datacenter() == home || !p.acked || p.installing ||
          p.match < std::max(committed_, epoch_start_) || !answering(p)) {
        continue;
      }
      if (best.empty() || p.match > peers_[best].match) best = s;
    }
    if (best.empty()) {
      if (stall_reason_.empty()) {
        stall_reason_ = "no eligible sync secondary in another datacenter";
        spdlog::warn("partition {}: writes stop: {}", options_.partition, stall_reason_);
      }
    } else {
      Remove(next.mutable_secondaries(), best);
      *next.add_sync() = best;
      why += best + " becomes sync; ";
      stall_reason_.clear();
    }
  } else {
    stall_reason_.clear();
  }
  if (!why.empty()) ChangeConfig(std::move(next), why.substr(0, why.size() - 2));
  AdvanceCommit();
}

void Replica::ChangeConfig(proto::PartitionConfig next, const std::string& why) {
  next.set_epoch(epoch_ + 1);
  config_change_inflight_ = true;
  joining_sync_.clear();
  for (const auto& n : next.sync()) {
    if (!Contains(config_.sync(), n) && n != options_.node) joining_sync_.push_back(n);
  }
  uint64_t tenure = tenure_;
  int64_t expected = config_revision_;
  config_store_->CompareAndSwap(
      options_.partition, expected, next,
      [this, alive = std::weak_ptr<bool>(alive_), tenure, next, why](Result<int64_t> r) {
        if (alive.expired()) return;
        Post([this, tenure, next, why, r = std::move(r)] {
          config_change_inflight_ = false;
          joining_sync_.clear();
          if (!r.ok()) {
            spdlog::info("partition {}: configuration change ({}) lost: {}", options_.partition,
                         why, r.status().ToString());
            // A hand-over that did not happen (or whose outcome is unknown: the next read of the
            // configuration tells) gives writes back; epochs keep it safe either way.
            if (transfer_ && transfer_->swapping && tenure == tenure_) {
              FinishTransfer(Status(Code::kUnavailable,
                                    "the hand-over did not complete: " + r.status().message()));
            }
            PollConfig();
            return;
          }
          spdlog::info("partition {}: epoch {}: {}", options_.partition, next.epoch(), why);
          if (tenure != tenure_ || !primary_) return;
          if (next.primary() != options_.node) {
            // A planned failover: the target takes over under the new epoch.
            config_ = next;
            config_revision_ = *r;
            ObserveEpoch(next.epoch());
            my_role_ = RoleIn(next, options_.node);
            StepDown("primary handed to " + next.primary());
            return;
          }
          // The same tenure continues under the new epoch: members learn it from our appends.
          claimed_epoch_ = next.epoch();
          epoch_ = next.epoch();
          {
            std::lock_guard<std::mutex> lock(propose_mu_);
            if (accepting_epoch_.load() != 0) accepting_epoch_.store(epoch_);
          }
          OnConfig(VersionedConfig{next, *r});
        });
      });
}

// ---------------------------------------------------------------------------------------------
// Planned failover

void Replica::TransferPrimary(const std::string& target, int64_t timeout_ms,
                              std::function<void(Status)> done) {
  if (!primary_ || !reconciled_) {
    return done(Status(Code::kFailedPrecondition, options_.node + " is not the primary"));
  }
  if (transfer_) return done(Status(Code::kFailedPrecondition, "a transfer is under way"));
  if (target == options_.node) {
    return done(Status(Code::kFailedPrecondition, target + " is the primary already"));
  }
  // The target must be a sync member when the primary is handed over: it then holds every
  // acknowledged write, so a hand-over whose outcome is unknown (writes resume here meanwhile)
  // cannot lose one either way. A secondary is made one first (ContinueTransfer).
  Role role = RoleIn(config_, target);
  if (!peers_.count(target) || (role != Role::kSync && role != Role::kSecondary)) {
    return done(Status(Code::kFailedPrecondition,
                       target + " is not a caught-up member of partition " + options_.partition));
  }
  transfer_ = std::make_unique<Transfer>(
      Transfer{target, loop_->NowMillis() + timeout_ms, std::move(done)});
  SetAccepting(false);
  ContinueTransfer();
}

void Replica::ContinueTransfer() {
  if (!transfer_ || transfer_->swapping) return;
  if (loop_->NowMillis() > transfer_->deadline_ms) {
    return FinishTransfer(
        Status(Code::kUnavailable, transfer_->target + " did not catch up in time"));
  }
  uint64_t end = store_->log_end();
  auto it = peers_.find(transfer_->target);
  if (it == peers_.end()) return FinishTransfer(Status(Code::kFailedPrecondition, "target left"));
  if (!Contains(config_.sync(), transfer_->target)) {
    if (!config_change_inflight_ && it->second.acked && it->second.match >= committed_) {
      proto::PartitionConfig next = config_;
      Remove(next.mutable_secondaries(), transfer_->target);
      *next.add_sync() = transfer_->target;
      ChangeConfig(std::move(next), transfer_->target + " becomes sync for a planned failover");
    }
    PostAfter(options_.retry_ms, [this, tenure = tenure_] {
      if (tenure == tenure_) ContinueTransfer();
    });
    return;
  }
  if (committed_ < end || it->second.match < end) {
    SendTo(transfer_->target);
    PostAfter(options_.retry_ms, [this, tenure = tenure_] {
      if (tenure == tenure_) ContinueTransfer();
    });
    return;
  }
  // Everything is committed and the target holds it all: hand over. The target keeps the sync
  // members it can (those in another datacenter than itself), and we become one if we qualify.
  proto::PartitionConfig next = config_;
  next.set_primary(transfer_->target);
  Remove(next.mutable_sync(), transfer_->target);
  Remove(next.mutable_secondaries(), transfer_->target);
  *next.add_sync() = options_.node;
  transfer_->swapping = true;
  ChangeConfig(std::move(next), "planned failover to " + transfer_->target);
}

void Replica::FinishTransfer(Status s) {
  auto t = std::move(transfer_);
  transfer_.reset();
  if (!s.ok()) AdvanceCommit();  // writes resume
  t->done(std::move(s));
}

// ---------------------------------------------------------------------------------------------
// Every role: durability, apply, the Append handler

void Replica::MaybeSync() {
  if (sync_inflight_ || storage_failed_ || durable_ >= store_->log_end()) return;
  sync_inflight_ = true;
  auto result = std::make_shared<Result<uint64_t>>(Status(Code::kInternal, "not synced"));
  std::weak_ptr<bool> alive = alive_;
  loop_->Offload([this, result] { *result = store_->Sync(); },
                 [this, alive, result] {
                   if (alive.expired()) return;
                   OnSynced(std::move(*result));
                 });
}

void Replica::OnSynced(Result<uint64_t> durable) {
  sync_inflight_ = false;
  if (!durable.ok()) {
    storage_failed_ = true;
    spdlog::error("partition {}: {}: sync failed: {}", options_.partition, options_.node,
                  durable.status().ToString());
    StepDown("storage failed");
    FailWaitingReplies();
    return;
  }
  durable_ = std::max(durable_, *durable);
  if (primary_) {
    AdvanceCommit();
  } else {
    ApplyCommitted();
    AnswerWaitingReplies();
  }
  MaybeSync();
}

void Replica::ApplyCommitted() {
  uint64_t target = std::min({committed_, durable_, store_->log_end()});
  if (target > store_->applied()) {
    Status s = store_->ApplyThrough(target);
    if (!s.ok()) {
      storage_failed_ = true;
      spdlog::error("partition {}: apply: {}", options_.partition, s.ToString());
      return;
    }
  }
  UpdateVisible();
  TrimLog();
}

void Replica::UpdateVisible() {
  uint64_t visible = std::min(committed_, store_->applied());
  if (visible >= store_->base()) {
    store_->SetVisible(visible);
    visible_pub_.store(visible);
  }
  Publish();
}

void Replica::AnswerWaitingReplies() {
  for (auto it = waiting_replies_.begin(); it != waiting_replies_.end();) {
    if (it->match_end <= durable_) {
      it->reply(Answer(proto::AppendResponse::OK, epoch_, it->match_end));
      it = waiting_replies_.erase(it);
    } else {
      ++it;
    }
  }
}

void Replica::FailWaitingReplies() {
  for (auto& w : waiting_replies_) {
    w.reply(Answer(proto::AppendResponse::STALE_EPOCH, epoch_, 0, 0, "epoch moved on"));
  }
  waiting_replies_.clear();
}

void Replica::HandleAppend(const proto::AppendRequest& req,
                           std::function<void(proto::AppendResponse)> reply) {
  using R = proto::AppendResponse;
  if (req.epoch() < epoch_) {
    return reply(Answer(R::STALE_EPOCH, epoch_, 0, 0,
                        "epoch " + std::to_string(req.epoch()) + " is older than " +
                            std::to_string(epoch_)));
  }
  if (req.epoch() > epoch_) {
    ObserveEpoch(req.epoch());
    PollConfig();
  }
  if (primary_) {
    // Two primaries cannot share an epoch; a message claiming so is not trusted.
    return reply(Answer(R::STALE_EPOCH, epoch_, 0, 0, "this replica is the primary"));
  }
  if (storage_failed_) return reply(Answer(R::UNAVAILABLE, epoch_, 0, 0, "storage failed"));
  if (installing_) return reply(Answer(R::NEED_CHECKPOINT, epoch_, 0, 0, "installing"));

  auto need_checkpoint = [&](const std::string& why) {
    spdlog::debug("partition {}: {} needs a checkpoint: {} (applied {}, base {}, committed {})",
                  options_.partition, options_.node, why, store_->applied(), store_->base(),
                  committed_);
    FetchCheckpoint(req.primary());
    reply(Answer(R::NEED_CHECKPOINT, epoch_, 0, 0, why));
  };
  // Does our log hold the entry the new ones follow? Entries through the commit point we know
  // are the same in every later primary's log, so they match without looking.
  uint64_t prev = req.prev_lsn();
  if (prev > store_->log_end()) {
    if (store_->log_end() < req.log_base()) return need_checkpoint("behind the primary's log");
    return reply(Answer(R::MISMATCH, epoch_, 0, store_->log_end()));
  }
  if (prev > committed_ && prev >= store_->base()) {
    auto e = store_->EpochAt(prev);
    if (!e.ok()) return reply(Answer(R::UNAVAILABLE, epoch_, 0, 0, e.status().message()));
    if (*e != req.prev_epoch()) {
      uint64_t hint = std::max(committed_, store_->base());
      if (hint < req.log_base()) return need_checkpoint("diverged before the primary's log");
      return reply(Answer(R::MISMATCH, epoch_, 0, hint));
    }
  }
  if (store_->applied() > req.log_end()) {
    return need_checkpoint("applied entries beyond the primary's log");
  }
  // Append what we do not hold; an entry that differs from ours replaces our tail from there,
  // unless we already applied it (only a deposed primary can have), which takes a checkpoint.
  std::vector<proto::Op> fresh;
  for (const auto& e : req.entries()) {
    if (e.lsn() < store_->base()) continue;
    if (e.lsn() == store_->base()) {
      // Entries up to the base are in our state. They are the primary's too if its entry at the
      // base is ours (as the log matching goes); a checkpoint installed ahead of the commit
      // point may not be.
      if (e.epoch() != store_->base_epoch() && e.lsn() > committed_) {
        return need_checkpoint("installed state diverges from the primary's log");
      }
      continue;
    }
    if (fresh.empty() && e.lsn() <= store_->log_end()) {
      auto mine = store_->EpochAt(e.lsn());
      if (!mine.ok()) return reply(Answer(R::UNAVAILABLE, epoch_, 0, 0, mine.status().message()));
      if (*mine == e.epoch()) continue;
      if (e.lsn() <= store_->applied()) return need_checkpoint("applied a divergent entry");
      spdlog::debug("partition {}: {} truncates after {} (epoch {} replaces {})",
                    options_.partition, options_.node, e.lsn() - 1, e.epoch(), *mine);
      Status t = store_->TruncateAfter(e.lsn() - 1);
      if (!t.ok()) return reply(Answer(R::UNAVAILABLE, epoch_, 0, 0, t.message()));
      durable_ = std::min(durable_, e.lsn() - 1);
      // Promises about the truncated entries no longer hold.
      for (auto it = waiting_replies_.begin(); it != waiting_replies_.end();) {
        if (it->match_end >= e.lsn()) {
          it->reply(Answer(R::STALE_EPOCH, epoch_, 0, 0, "log replaced"));
          it = waiting_replies_.erase(it);
        } else {
          ++it;
        }
      }
    }
    fresh.push_back(e);
  }
  if (!fresh.empty()) {
    Status a = store_->Append(fresh);
    if (!a.ok()) {
      return reply(Answer(a.code() == Code::kFailedPrecondition ? R::NEED_CHECKPOINT
                                                                : R::UNAVAILABLE,
                          epoch_, 0, 0, a.message()));
    }
  }
  uint64_t match_end = req.entries_size() > 0 ? req.entries(req.entries_size() - 1).lsn() : prev;
  // The commit point the primary states holds for us only as far as our log equals its log.
  committed_ = std::max(committed_, std::min(req.committed_lsn(), match_end));
  heard_ms_.store(loop_->NowMillis());
  if (durable_ >= match_end) {
    ApplyCommitted();
    return reply(Answer(R::OK, epoch_, match_end));
  }
  waiting_replies_.push_back(WaitingReply{epoch_, match_end, std::move(reply)});
  MaybeSync();
}

proto::ReplicaStatus Replica::HandleStatus() const {
  proto::ReplicaStatus s;
  s.set_partition(options_.partition);
  s.set_node(options_.node);
  s.set_epoch(epoch_);
  s.set_role(RoleName(my_role_));
  s.set_log_end(store_->log_end());
  auto e = store_->EpochAt(store_->log_end());
  s.set_log_end_epoch(e.ok() ? *e : 0);
  s.set_applied_lsn(store_->applied());
  s.set_committed_lsn(committed_);
  return s;
}

// A checkpoint holds the primary's whole applied state, which may run ahead of the commit point;
// the replica that installs it serves no reads until the commit point reaches it (readable()),
// and if those entries are then lost with the primary, it finds its applied state ahead of the
// next primary's log and takes a checkpoint again. Waiting for the commit point here instead
// could wait forever: the replica may be the one the commit waits for.
void Replica::HandleFetchCheckpoint(const proto::CheckpointRequest& req,
                                    Reply<std::unique_ptr<CheckpointReader>> reply) {
  if (!primary_ || req.epoch() > epoch_) {
    return reply(Status(Code::kUnavailable, options_.node + " is not the primary"));
  }
  // Making it flushes the memtable and links files: off the loop.
  auto reader = std::make_shared<Result<std::unique_ptr<CheckpointReader>>>(
      Status(Code::kInternal, "not opened"));
  loop_->Offload([this, reader] { *reader = store_->OpenCheckpoint(); },
                 [reader, reply = std::move(reply)] { reply(std::move(*reader)); });
}

void Replica::FetchCheckpoint(const std::string& from) {
  if (installing_) return;
  auto writer = store_->BeginInstall();
  if (!writer.ok()) {
    spdlog::warn("partition {}: cannot begin a checkpoint install: {}", options_.partition,
                 writer.status().ToString());
    return;
  }
  installing_ = true;
  proto::CheckpointRequest req;
  req.set_partition(options_.partition);
  req.set_epoch(epoch_);
  req.set_replica(options_.node);
  // The transport writes into the sink until it calls back; the callback owns it until then.
  auto sink = std::make_shared<std::unique_ptr<CheckpointWriter>>(std::move(*writer));
  spdlog::info("partition {}: {} fetches a checkpoint from {}", options_.partition,
               options_.node, from);
  transport_->FetchCheckpoint(
      from, req, sink->get(),
      [this, alive = std::weak_ptr<bool>(alive_), sink](Status s) {
        if (alive.expired()) return;
        // Installing fsyncs the files and switches the partition to them: off the loop.
        auto result = std::make_shared<Status>(s);
        std::weak_ptr<bool> weak = alive;
        loop_->Offload(
            [this, sink, result] {
              if (result->ok()) *result = store_->Install(std::move(*sink));
            },
            [this, weak, result] {
              if (weak.expired()) return;
              installing_ = false;
              if (!result->ok()) {
                spdlog::warn("partition {}: checkpoint install failed: {}", options_.partition,
                             result->ToString());
                return;
              }
              spdlog::debug("partition {}: {} installed a checkpoint at {} (epoch {})",
                            options_.partition, options_.node, store_->base(),
                            store_->base_epoch());
              FailWaitingReplies();
              durable_ = store_->durable_end();
              ApplyCommitted();
            });
      });
}

void Replica::TrimLog() {
  uint64_t keep_from = committed_ > options_.log_retention ? committed_ - options_.log_retention : 0;
  uint64_t through = std::min({keep_from, store_->applied(), committed_});
  // In batches: each trim is a range deletion in RocksDB, and thousands of small ones (one per
  // apply) slowed every later read of the log.
  if (through < store_->base() + std::max<uint64_t>(1, options_.log_retention / 10)) return;
  Status s = store_->TrimLogThrough(through);
  if (!s.ok()) spdlog::warn("partition {}: trim: {}", options_.partition, s.ToString());
}

}  // namespace meridian::replication
