// Replica's rules one at a time, each on a replica driven by hand: fencing by epoch, the log
// matching check, truncation of a divergent tail, a checkpoint for an applied one, and the epoch a
// restarted primary claims. The simulation (replication_sim_test) runs them all together under
// faults; these make each rule fail on its own when it is removed.
#include "replication/replica.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <set>

#include "replication/replica_token.h"
#include "replication/sim/mem_store.h"

namespace meridian::replication {
namespace {

using sim::MemStore;

// Runs posted tasks when told to; time moves only by Advance.
class ManualLoop final : public Loop {
 public:
  int64_t NowMillis() const override { return now_; }
  void Post(std::function<void()> task) override { tasks_.push_back({now_, std::move(task)}); }
  void PostAfter(int64_t delay_ms, std::function<void()> task) override {
    tasks_.push_back({now_ + delay_ms, std::move(task)});
  }
  void Offload(std::function<void()> work, std::function<void()> then) override {
    Post([work = std::move(work), then = std::move(then)] {
      work();
      then();
    });
  }
  // Runs every task due now, including those they post.
  void Drain() {
    for (int guard = 0; guard < 10000; ++guard) {
      auto it = std::find_if(tasks_.begin(), tasks_.end(), [&](auto& t) { return t.first <= now_; });
      if (it == tasks_.end()) return;
      auto fn = std::move(it->second);
      tasks_.erase(it);
      fn();
    }
  }
  void Advance(int64_t ms) {
    now_ += ms;
    Drain();
  }

 private:
  int64_t now_ = 0;
  std::deque<std::pair<int64_t, std::function<void()>>> tasks_;
};

// Records what the replica sends; answers nothing unless a test does.
class RecordingTransport final : public Transport {
 public:
  void Append(const std::string& to, const proto::AppendRequest& r,
              Reply<proto::AppendResponse> reply) override {
    appends.push_back({to, r, std::move(reply)});
  }
  void Status(const std::string&, const proto::ReplicaStatusRequest&,
              Reply<proto::ReplicaStatus> reply) override {
    reply(meridian::Status(Code::kUnavailable, "not in this test"));
  }
  void FetchCheckpoint(const std::string& to, const proto::CheckpointRequest&, CheckpointWriter*,
                       std::function<void(meridian::Status)> done) override {
    checkpoint_fetches.push_back(to);
    done(meridian::Status(Code::kUnavailable, "not in this test"));
  }
  void Forward(const std::string&, const proto::ForwardRequest&,
               Reply<proto::ForwardResponse> reply) override {
    reply(meridian::Status(Code::kUnavailable, "not in this test"));
  }
  struct Sent {
    std::string to;
    proto::AppendRequest request;
    Reply<proto::AppendResponse> reply;
  };
  std::vector<Sent> appends;
  std::vector<std::string> checkpoint_fetches;
};

// A configuration store in memory with compare-and-swap; every node is live.
class MemConfig final : public ConfigStore {
 public:
  void Get(const std::string&, std::function<void(Result<VersionedConfig>)> done) override {
    done(current);
  }
  void CompareAndSwap(const std::string&, int64_t expected, const proto::PartitionConfig& next,
                      std::function<void(Result<int64_t>)> done) override {
    if (expected != current.revision) {
      return done(meridian::Status(Code::kFailedPrecondition, "revision moved"));
    }
    auto apply = [this, next, done] {
      current = VersionedConfig{next, current.revision + 1};
      done(current.revision);
    };
    if (hold) return held.push_back(apply);  // lands when the test says so
    apply();
  }
  void ListPartitions(std::function<void(Result<std::vector<VersionedConfig>>)> done) override {
    done(std::vector<VersionedConfig>{current});
  }
  void LiveNodes(std::function<void(Result<std::vector<proto::NodeInfo>>)> done) override {
    std::vector<proto::NodeInfo> out;
    for (const char* dc : {"dc1", "dc2", "dc3"}) {
      proto::NodeInfo n;
      n.set_id(std::string("n") + dc[2]);
      if (lapsed.count(n.id())) continue;
      n.set_region("emea");
      n.set_datacenter(dc);
      out.push_back(n);
    }
    done(out);
  }
  VersionedConfig current;
  bool hold = false;                         // keep compare-and-swaps in flight
  std::vector<std::function<void()>> held;
  std::set<std::string> lapsed;              // nodes whose lease has lapsed (still running)
};

proto::Op Entry(uint64_t lsn, uint64_t epoch, const std::string& value) {
  proto::Op op;
  op.set_lsn(lsn);
  op.set_epoch(epoch);
  op.set_format(kOpFormat);
  op.mutable_put_object()->set_id("k");
  op.mutable_put_object()->set_record_json(value);
  return op;
}

proto::AppendRequest Append(uint64_t epoch, uint64_t prev, uint64_t prev_epoch,
                            std::vector<proto::Op> entries, uint64_t committed) {
  proto::AppendRequest r;
  r.set_partition("p1");
  r.set_epoch(epoch);
  r.set_primary("n1");
  r.set_prev_lsn(prev);
  r.set_prev_epoch(prev_epoch);
  for (auto& e : entries) *r.add_entries() = e;
  r.set_committed_lsn(committed);
  r.set_log_end(entries.empty() ? prev : entries.back().lsn());
  return r;
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    spdlog::set_level(spdlog::level::off);
    config.current.revision = 1;
    auto& c = config.current.config;
    c.set_partition("p1");
    c.set_region("emea");
    c.set_epoch(1);
    c.set_primary("n1");
    c.add_sync("n2");
    c.add_secondaries("n3");
  }
  std::unique_ptr<Replica> Make(const std::string& node) {
    ReplicaOptions o;
    o.node = node;
    o.partition = "p1";
    auto r = std::make_unique<Replica>(o, &store, &loop, &transport, &config);
    r->Start();
    loop.Drain();
    return r;
  }
  // Delivers `request` and returns the answer (once the replica has synced).
  proto::AppendResponse Deliver(Replica* r, const proto::AppendRequest& request) {
    std::optional<proto::AppendResponse> answer;
    r->HandleAppend(request, [&](proto::AppendResponse a) { answer = a; });
    loop.Drain();
    EXPECT_TRUE(answer.has_value());
    return answer.value_or(proto::AppendResponse());
  }

  // n2 becomes primary (claiming epoch 2), applies entry 1 = `value` as it proposes it, and stops
  // before anyone acknowledges it; the configuration then names n1 primary and n2 sync.
  void ApplyAsDeposedPrimary(const std::string& value) {
    config.current.config.set_primary("n2");
    config.current.config.set_sync(0, "n1");
    {
      auto primary = Make("n2");
      loop.Advance(1);
      ASSERT_EQ(config.current.config.epoch(), 2u);
      Write(primary.get(), value);
    }
    ASSERT_EQ(store.applied(), 1u);
    config.current.config.set_primary("n1");
    config.current.config.set_sync(0, "n2");
  }

  // Proposes k = `value` on `r`; the result lands in what it returns once the write commits or
  // fails.
  std::shared_ptr<std::optional<Result<Commit>>> Write(Replica* r, const std::string& value) {
    auto done = std::make_shared<std::optional<Result<Commit>>>();
    r->Propose(
        [value](const store::ReadView&, proto::Op* op) {
          op->mutable_put_object()->set_id("k");
          op->mutable_put_object()->set_record_json(value);
          return meridian::Status::Ok();
        },
        [done](Result<Commit> c) { *done = c; });
    loop.Drain();
    return done;
  }

  // Answers, as `node`, every append recorded for it: OK at `epoch`, durable through its last
  // entry.
  void AckFrom(const std::string& node, uint64_t epoch) {
    std::vector<RecordingTransport::Sent> mine;
    for (auto it = transport.appends.begin(); it != transport.appends.end();) {
      if (it->to == node) {
        mine.push_back(std::move(*it));
        it = transport.appends.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& sent : mine) {
      const auto& r = sent.request;
      proto::AppendResponse a;
      a.set_result(proto::AppendResponse::OK);
      a.set_epoch(epoch);
      a.set_durable_lsn(r.entries_size() ? r.entries(r.entries_size() - 1).lsn() : r.prev_lsn());
      sent.reply(a);
    }
    loop.Drain();
  }

  // Answers every recorded append with OK at `epoch`.
  void AckAll(uint64_t epoch) {
    for (auto& s : transport.appends) {
      proto::AppendResponse a;
      a.set_result(proto::AppendResponse::OK);
      a.set_epoch(epoch);
      a.set_durable_lsn(s.request.prev_lsn());
      s.reply(a);
    }
    transport.appends.clear();
    loop.Drain();
  }

  ManualLoop loop;
  RecordingTransport transport;
  MemConfig config;
  MemStore store;
};

TEST_F(ReplicaTest, AnAppendFromAnOlderEpochIsRefusedAndChangesNothing) {
  auto r = Make("n2");
  ASSERT_EQ(Deliver(r.get(), Append(3, 0, 0, {Entry(1, 3, "a")}, 0)).result(),
            proto::AppendResponse::OK);
  auto stale = Deliver(r.get(), Append(2, 1, 3, {Entry(2, 2, "b")}, 0));
  EXPECT_EQ(stale.result(), proto::AppendResponse::STALE_EPOCH);
  EXPECT_EQ(stale.epoch(), 3u);
  EXPECT_EQ(store.log_end(), 1u);
}

TEST_F(ReplicaTest, AnEntryIsAppendedOnlyAfterTheEntryBeforeItMatches) {
  auto r = Make("n2");
  ASSERT_EQ(Deliver(r.get(), Append(2, 0, 0, {Entry(1, 2, "a"), Entry(2, 2, "b")}, 0)).result(),
            proto::AppendResponse::OK);
  // The sender believes entry 2 has epoch 3: our log does not hold what it follows.
  auto mismatch = Deliver(r.get(), Append(3, 2, 3, {Entry(3, 3, "c")}, 0));
  EXPECT_EQ(mismatch.result(), proto::AppendResponse::MISMATCH);
  EXPECT_EQ(store.log_end(), 2u);
  EXPECT_LE(mismatch.hint_lsn(), 1u);
  // A gap is a mismatch too, with the log end as the hint.
  auto gap = Deliver(r.get(), Append(3, 5, 3, {Entry(6, 3, "f")}, 0));
  EXPECT_EQ(gap.result(), proto::AppendResponse::MISMATCH);
  EXPECT_EQ(gap.hint_lsn(), 2u);
}

TEST_F(ReplicaTest, ADivergentUnappliedTailIsTruncatedAndReplaced) {
  auto r = Make("n2");
  ASSERT_EQ(Deliver(r.get(), Append(2, 0, 0, {Entry(1, 2, "a"), Entry(2, 2, "b"), Entry(3, 2, "c")}, 1))
                .result(),
            proto::AppendResponse::OK);
  EXPECT_EQ(store.applied(), 1u);
  // A new primary (epoch 4) never had entries 2 and 3 of epoch 2.
  auto ok = Deliver(r.get(), Append(4, 1, 2, {Entry(2, 4, "x")}, 2));
  EXPECT_EQ(ok.result(), proto::AppendResponse::OK);
  EXPECT_EQ(store.log_end(), 2u);
  EXPECT_EQ(store.EpochAt(2).value(), 4u);
  EXPECT_EQ(store.Read("k"), (std::vector<std::string>{"a", "x"}));
}

TEST_F(ReplicaTest, AnAppliedDivergentEntryTakesACheckpointInsteadOfBeingKept) {
  // A deposed primary: it applied entry 1 (epoch 2) as it proposed it, and it never committed.
  ApplyAsDeposedPrimary("lost");
  config.current.config.set_epoch(5);
  auto r = Make("n2");
  auto answer = Deliver(r.get(), Append(5, 0, 0, {Entry(1, 5, "new")}, 0));
  EXPECT_EQ(answer.result(), proto::AppendResponse::NEED_CHECKPOINT);
  EXPECT_EQ(transport.checkpoint_fetches, std::vector<std::string>{"n1"});
  EXPECT_FALSE(r->readable() && r->visible_lsn() >= 1) << "the lost entry must not be readable";
}

TEST_F(ReplicaTest, ARestartedReplicaServesNothingItAppliedUntilThatCommits) {
  // A primary applied entry 1 as it proposed it, and stopped before anyone acknowledged it. It
  // restarts as a secondary: its state shows entry 1, which may yet be lost.
  ApplyAsDeposedPrimary("unacknowledged");
  config.current.config.set_epoch(9);
  auto r = Make("n2");
  EXPECT_FALSE(r->readable()) << "a restarted replica served an entry nobody acknowledged";
  // Once a primary says the entry is committed (it kept it), the replica serves again.
  ASSERT_EQ(Deliver(r.get(), Append(9, 1, 2, {}, 1)).result(), proto::AppendResponse::OK);
  EXPECT_TRUE(r->readable());
  EXPECT_EQ(r->visible_lsn(), 1u);
}

TEST_F(ReplicaTest, APrimaryProposesOnlyUnderAnEpochItClaimedAndCommitsOnlyWithItsSyncSet) {
  auto r = Make("n1");
  loop.Advance(1);
  // Configuration epoch 1 named it; it claims epoch 2 before it proposes.
  EXPECT_EQ(config.current.config.epoch(), 2u);
  ASSERT_EQ(r->role(), Role::kPrimary);
  // Reconciliation: every member acknowledges the (empty) log end.
  AckAll(2);
  ASSERT_TRUE(r->accepting_writes());
  auto proposal = Write(r.get(), "v");
  auto& done = *proposal;
  ASSERT_EQ(store.EpochAt(1).value(), 2u);
  EXPECT_FALSE(done.has_value()) << "acknowledged before the sync member had it";
  EXPECT_EQ(r->visible_lsn(), 0u) << "a read saw an uncommitted entry on the primary";
  // The secondary's acknowledgement does not commit; the sync member's does.
  AckFrom("n3", 2);
  EXPECT_FALSE(done.has_value());
  AckFrom("n2", 2);
  ASSERT_TRUE(done.has_value());
  ASSERT_TRUE(done->ok());
  EXPECT_EQ((*done)->lsn, 1u);
  EXPECT_EQ((*done)->epoch, 2u);
  EXPECT_EQ(r->visible_lsn(), 1u);
}

TEST_F(ReplicaTest, ASyncMemberBeingAddedCountsForCommitsBeforeTheChangeLands) {
  // n1 (dc1) is primary with sync n2 (dc2). n2's lease lapses while it keeps answering, so n1
  // adds n3 (dc3) to the sync set. Once that lands n3 may be promoted: a write acknowledged
  // meanwhile on n1 and n2 alone would be lost with them.
  config.current.config.set_secondaries(0, "n3");
  auto r = Make("n1");
  loop.Advance(1);
  AckAll(2);
  ASSERT_TRUE(r->accepting_writes());
  config.lapsed = {"n2"};
  config.hold = true;
  for (int i = 0; i < 12 && config.held.empty(); ++i) {
    loop.Advance(50);
    AckFrom("n2", 2);
    AckFrom("n3", 2);
  }
  ASSERT_EQ(config.held.size(), 1u) << "n1 did not start adding a sync member";
  auto proposal = Write(r.get(), "v");
  auto& done = *proposal;
  for (int i = 0; i < 3; ++i) AckFrom("n2", 2);
  EXPECT_FALSE(done.has_value()) << "acknowledged without the sync member being added";
  AckFrom("n3", 2);
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(done->ok());
  config.held.front()();
  loop.Drain();
  EXPECT_EQ(config.current.config.sync_size(), 2);
}

TEST_F(ReplicaTest, APrimaryThatMeetsANewerEpochStepsDownAndFailsItsPendingWrites) {
  auto r = Make("n1");
  loop.Advance(1);
  AckAll(2);
  auto proposal = Write(r.get(), "v");
  auto& done = *proposal;
  for (auto& s : transport.appends) {
    proto::AppendResponse a;
    a.set_result(proto::AppendResponse::STALE_EPOCH);
    a.set_epoch(7);
    s.reply(a);
    break;
  }
  loop.Drain();
  EXPECT_NE(r->role(), Role::kPrimary);
  EXPECT_FALSE(r->accepting_writes());
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace meridian::replication

namespace meridian::replication {
namespace {

TEST(ReplicaTokenTest, RoundTripsAndRefusesForgeriesAndForeignKeys) {
  ReplicaToken t{"emea-1", 7, 12345};
  std::string text = EncodeReplicaToken(t, "key-a");
  auto back = DecodeReplicaToken(text, "key-a");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->partition, "emea-1");
  EXPECT_EQ(back->epoch, 7u);
  EXPECT_EQ(back->lsn, 12345u);
  EXPECT_FALSE(DecodeReplicaToken(text, "key-b").ok()) << "a token of another deployment";
  std::string forged = text;
  forged.replace(forged.find("12345"), 5, "99999");
  EXPECT_FALSE(DecodeReplicaToken(forged, "key-a").ok()) << "a forged LSN";
  for (const char* junk : {"", "1", "1.p.1.1", "2.p.1.1.x", "1..1.1.x", "1.p.-1.1.x",
                           "1.p.1.99999999999999999999999.x"}) {
    EXPECT_FALSE(DecodeReplicaToken(junk, "key-a").ok()) << junk;
  }
}

}  // namespace
}  // namespace meridian::replication
