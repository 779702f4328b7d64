#include "store/partition.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <rocksdb/db.h>

#include "common/encoding.h"
#include "common/testing/temp_dir.h"
#include "store/keys.h"
#include "store/testing/fault_env.h"

namespace meridian::store {
namespace {

// Writes put_object.record_json under the key put_object.id; refuses ids starting with "bad".
class KvMachine final : public StateMachine {
 public:
  Status Apply(const proto::Op& op, WriteContext* ctx) override {
    const auto& p = op.put_object();
    if (p.id().rfind("bad", 0) == 0) return InvalidArgument("bad id");
    auto existing = ctx->Get("T" + p.id());
    if (!existing.ok()) return existing.status();
    if (p.create() && existing->has_value()) return AlreadyExists(p.id());
    ctx->Put("T" + p.id(), p.record_json());
    return Status::Ok();
  }
};

using testing::TempDir;

Result<uint64_t> Put(Partition* p, const std::string& id, const std::string& value,
                     bool create = false) {
  return p->Write([&](const ReadView&, proto::Op* op) {
    op->mutable_put_object()->set_id(id);
    op->mutable_put_object()->set_record_json(value);
    op->mutable_put_object()->set_create(create);
    return Status::Ok();
  });
}

std::map<std::string, std::string> Dump(Partition* p) {
  std::map<std::string, std::string> out;
  auto view = p->Snapshot();
  EXPECT_TRUE(view->Scan("", "\xff", false, [&](std::string_view k, std::string_view v) {
                     out.emplace(k, v);
                     return true;
                   }).ok());
  return out;
}

TEST(Partition, AssignsLsnsAndServesTheLogFromAnyPoint) {
  TempDir dir;
  KvMachine m;
  auto p = Partition::Open("p1", dir.path(), &m);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  for (int i = 1; i <= 10; ++i) {
    auto lsn = Put(p->get(), "k" + std::to_string(i), "v" + std::to_string(i));
    ASSERT_TRUE(lsn.ok());
    EXPECT_EQ(*lsn, static_cast<uint64_t>(i));
  }
  std::vector<uint64_t> seen;
  ASSERT_TRUE((*p)->ReadLog(7, [&](const proto::Op& op) {
                    seen.push_back(op.lsn());
                    return true;
                  }).ok());
  EXPECT_EQ(seen, (std::vector<uint64_t>{7, 8, 9, 10}));
  auto v = (*p)->Snapshot()->Get("Tk3");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->value_or(""), "v3");
}

TEST(Partition, RejectedOpWritesNothing) {
  TempDir dir;
  KvMachine m;
  auto p = std::move(Partition::Open("p1", dir.path(), &m)).value();
  ASSERT_TRUE(Put(p.get(), "a", "1", true).ok());
  auto before = Dump(p.get());
  auto dup = Put(p.get(), "a", "2", true);
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(Put(p.get(), "bad1", "x").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(p->last_lsn(), 1u);
  EXPECT_EQ(Dump(p.get()), before);
  EXPECT_EQ(*Put(p.get(), "b", "1"), 2u) << "a rejected op must not consume an LSN";
}

TEST(Partition, ReopenKeepsStateAndLsn) {
  TempDir dir;
  KvMachine m;
  {
    auto p = std::move(Partition::Open("p1", dir.path(), &m)).value();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(Put(p.get(), "k" + std::to_string(i), "v").ok());
  }
  auto p = std::move(Partition::Open("p1", dir.path(), &m)).value();
  EXPECT_EQ(p->last_lsn(), 5u);
  EXPECT_EQ(*Put(p.get(), "z", "v"), 6u);
}

TEST(Partition, ReplayingTheLogOnAReplicaGivesTheSameState) {
  TempDir a, b;
  KvMachine m;
  auto primary = std::move(Partition::Open("p", a.path(), &m)).value();
  auto replica = std::move(Partition::Open("p", b.path(), &m)).value();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(primary.get(), "k" + std::to_string(i % 7), std::to_string(i)).ok());
  ASSERT_TRUE(primary->ReadLog(1, [&](const proto::Op& op) {
                       EXPECT_TRUE(replica->ApplyLogged(op).ok());
                       return true;
                     }).ok());
  EXPECT_EQ(Dump(primary.get()), Dump(replica.get()));
  proto::Op gap;
  gap.set_lsn(25);
  EXPECT_EQ(replica->ApplyLogged(gap).code(), Code::kFailedPrecondition);
}

// A child process writes and reports each acknowledged LSN through a pipe; the parent kills it
// with SIGKILL mid-stream and checks that every acknowledged write survived.
TEST(Partition, KillNineLosesNoAcknowledgedWrite) {
  TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    KvMachine m;
    auto p = Partition::Open("p", dir.path(), &m);
    if (!p.ok()) _exit(2);
    for (uint64_t i = 1;; ++i) {
      auto lsn = Put(p->get(), "k" + std::to_string(i), std::to_string(i));
      if (!lsn.ok()) _exit(3);
      if (write(fds[1], &i, sizeof(i)) != sizeof(i)) _exit(4);
    }
  }
  close(fds[1]);
  uint64_t acked = 0, v;
  while (acked < 200 && read(fds[0], &v, sizeof(v)) == sizeof(v)) acked = v;
  kill(child, SIGKILL);
  int status;
  waitpid(child, &status, 0);
  // Whatever the child acknowledged before it died was read after the kill, too.
  while (read(fds[0], &v, sizeof(v)) == sizeof(v)) acked = v;
  close(fds[0]);
  ASSERT_GE(acked, 200u);

  KvMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  EXPECT_GE(p->last_lsn(), acked);
  auto view = p->Snapshot();
  for (uint64_t i = 1; i <= acked; ++i) {
    auto got = view->Get("Tk" + std::to_string(i));
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->value_or("<missing>"), std::to_string(i)) << "acknowledged write " << i << " lost";
  }
  uint64_t expect = 1;
  ASSERT_TRUE(p->ReadLog(1, [&](const proto::Op& op) {
                 EXPECT_EQ(op.lsn(), expect++);
                 return true;
               }).ok());
  EXPECT_EQ(expect - 1, p->last_lsn()) << "the log has a gap";
}

// ------------------------------------------------------------------ storage faults

TEST(Partition, AcknowledgedWriteSyncsTheWal) {
  TempDir dir;
  KvMachine m;
  FaultEnv env;
  PartitionOptions options;
  options.env = &env;
  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  for (int i = 0; i < 5; ++i) {
    uint64_t before = env.wal_syncs();
    ASSERT_TRUE(Put(p.get(), "k" + std::to_string(i), "v").ok());
    EXPECT_GT(env.wal_syncs(), before) << "write " << i << " was acknowledged before its WAL sync";
    EXPECT_EQ(p->durable_end(), static_cast<uint64_t>(i + 1));
  }

  // The counter counts syncs, not writes: without sync a write does not move it.
  TempDir dir2;
  options.sync = false;
  auto unsynced = std::move(Partition::Open("q", dir2.path(), &m, options)).value();
  uint64_t before = env.wal_syncs();
  ASSERT_TRUE(Put(unsynced.get(), "k", "v").ok());
  EXPECT_EQ(env.wal_syncs(), before);
}

enum class Fault { kFailedSync, kIoError, kDiskFull };

std::string FaultName(Fault f) {
  switch (f) {
    case Fault::kFailedSync:
      return "FailedSync";
    case Fault::kIoError:
      return "IoError";
    case Fault::kDiskFull:
      return "DiskFull";
  }
  return "?";
}

class PartitionFaultTest : public ::testing::TestWithParam<Fault> {};

// A write that meets a storage fault is refused, does not advance the LSN, leaves the partition
// refusing writes (even once the disk is healthy again) until it is reopened, and is absent after
// the reopen: nothing that was not acknowledged comes back, nothing acknowledged is lost.
TEST_P(PartitionFaultTest, WriteIsRefusedAndAbsentAfterReopen) {
  TempDir dir;
  KvMachine m;
  FaultEnv env;
  PartitionOptions options;
  options.env = &env;
  {
    auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
    for (int i = 1; i <= 3; ++i) ASSERT_TRUE(Put(p.get(), "k" + std::to_string(i), "v").ok());
    switch (GetParam()) {
      case Fault::kFailedSync:
        env.FailNextWalSync();
        break;
      case Fault::kIoError:
        env.SetWriteFault(WriteFault::kIoError);
        break;
      case Fault::kDiskFull:
        env.SetWriteFault(WriteFault::kNoSpace);
        break;
    }
    auto refused = Put(p.get(), "k4", "v");
    ASSERT_FALSE(refused.ok()) << "a write that was not stored was acknowledged";
    EXPECT_EQ(refused.status().code(), Code::kInternal) << refused.status().ToString();
    EXPECT_GT(env.injected_faults(), 0u) << "the fault was never hit";
    EXPECT_EQ(p->last_lsn(), 3u);

    // The disk is fine again, but the partition does not pretend: RocksDB has stopped, and
    // the partition says so until it is reopened.
    env.Heal();
    auto after = Put(p.get(), "k5", "v");
    ASSERT_FALSE(after.ok());
    EXPECT_EQ(after.status().code(), Code::kUnavailable) << after.status().ToString();
    EXPECT_NE(after.status().message().find("reopen"), std::string::npos);
    proto::Op next;
    next.set_lsn(4);
    EXPECT_EQ(p->ApplyLogged(next).code(), Code::kUnavailable);
    EXPECT_EQ(p->Writable().code(), Code::kUnavailable) << "readiness sees it";
    EXPECT_EQ(p->last_lsn(), 3u);
    // Reads still work.
    auto v = p->Latest()->Get("Tk3");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->value_or(""), "v");
  }

  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  EXPECT_EQ(p->last_lsn(), 3u);
  auto view = p->Snapshot();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(view->Get("Tk" + std::to_string(i))->value_or(""), "v");
  EXPECT_FALSE(view->Get("Tk4")->has_value()) << "the refused op came back after the reopen";
  EXPECT_FALSE(view->Get("Tk5")->has_value());
  std::vector<uint64_t> log;
  ASSERT_TRUE(p->ReadLog(1, [&](const proto::Op& op) {
                 log.push_back(op.lsn());
                 return true;
               }).ok());
  EXPECT_EQ(log, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(*Put(p.get(), "k4", "again"), 4u) << "the reopened partition takes writes";
}

// The other outcome of a failed fsync: the bytes reached the disk after all. The caller was told
// the write failed (its outcome is unknown, as after any failed fsync), and the reopened partition
// holds the op whole, at the LSN it was given, never in part and never at another LSN.
TEST(Partition, FailedSyncWhoseBytesLandedComesBackWhole) {
  TempDir dir;
  KvMachine m;
  FaultEnv env;
  PartitionOptions options;
  options.env = &env;
  {
    auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
    ASSERT_TRUE(Put(p.get(), "k1", "v").ok());
    env.FailNextWalSync(SyncFailure::kKeepUnsynced);
    auto refused = Put(p.get(), "k2", "landed");
    ASSERT_FALSE(refused.ok());
    EXPECT_GT(env.injected_faults(), 0u);
    EXPECT_EQ(p->last_lsn(), 1u);
    EXPECT_FALSE(p->Latest()->Get("Tk2")->has_value()) << "visible before it was durable";
  }
  env.Heal();
  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  EXPECT_EQ(p->last_lsn(), 2u);
  EXPECT_EQ(p->Latest()->Get("Tk2")->value_or("<missing>"), "landed");
  std::vector<std::string> log;
  ASSERT_TRUE(p->ReadLog(1, [&](const proto::Op& op) {
                 log.push_back(std::to_string(op.lsn()) + "=" + op.put_object().id());
                 return true;
               }).ok());
  EXPECT_EQ(log, (std::vector<std::string>{"1=k1", "2=k2"}));
}

INSTANTIATE_TEST_SUITE_P(Faults, PartitionFaultTest,
                         ::testing::Values(Fault::kFailedSync, Fault::kIoError, Fault::kDiskFull),
                         [](const auto& info) { return FaultName(info.param); });

// ------------------------------------------------------------------ tenant isolation

// Runs the steps listed in create_tenant.objects, each a PutObject whose type names what to do
// with the key in `id`: "put" (value record_json), "delete", "get", "scan" (to record_json), or
// "get-ignore" / "scan-ignore", which swallow the error as a careless apply would.
class ScriptMachine final : public StateMachine {
 public:
  Status Apply(const proto::Op& op, WriteContext* ctx) override {
    for (const proto::PutObject& step : op.create_tenant().objects()) {
      const std::string& what = step.type();
      bool ignore = what.ends_with("-ignore");
      Status s;
      if (what == "put") {
        ctx->Put(step.id(), step.record_json());
      } else if (what == "delete") {
        ctx->Delete(step.id());
      } else if (what.starts_with("get")) {
        s = ctx->Get(step.id()).status();
      } else if (what.starts_with("scan")) {
        s = ctx->Scan(step.id(), step.record_json(), false,
                      [](std::string_view, std::string_view) { return true; });
      } else {
        return InvalidArgument("unknown step " + what);
      }
      if (!s.ok() && !ignore) return s;
    }
    return Status::Ok();
  }
};

struct Step {
  std::string what, key, value;
};

Result<uint64_t> Script(Partition* p, const std::string& tenant, const std::vector<Step>& steps) {
  return p->Write([&](const ReadView&, proto::Op* op) {
    op->set_tenant_id(tenant);
    for (const Step& s : steps) {
      auto* step = op->mutable_create_tenant()->add_objects();
      step->set_type(s.what);
      step->set_id(s.key);
      step->set_record_json(s.value);
    }
    return Status::Ok();
  });
}

TEST(Partition, TenantOpCannotTouchAnotherTenantsKeys) {
  TempDir dir;
  ScriptMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  std::string a = TenantKeys("a").Object("user", "1"), b = TenantKeys("b").Object("user", "1");
  ASSERT_TRUE(Script(p.get(), "a", {{"put", a, "A"}}).ok());
  ASSERT_TRUE(Script(p.get(), "b", {{"put", b, "B"}}).ok());
  auto before = Dump(p.get());
  ASSERT_EQ(p->last_lsn(), 2u);

  std::string a_prefix = TenantKeys("a").prefix();
  std::string ab = TenantKeys("ab").Object("user", "1");  // "Tab/..." sorts right after "Ta/"
  const std::vector<std::vector<Step>> attacks = {
      {{"put", a + "x", "ok"}, {"put", b, "overwritten by a"}},  // its own write goes too
      {{"delete", b, ""}},
      {{"put", ab, "prefix of another id"}},
      {{"put", "G/t/a", "global"}},
      {{"put", LogKey(3), "forged log entry"}},
      {{"get", b, ""}},
      {{"get-ignore", b, ""}, {"put", a + "y", "after a refused read"}},
      {{"scan", a_prefix, PrefixEnd(TenantKeys("b").prefix())}},
      {{"scan-ignore", "T", PrefixEnd(a_prefix)}},
      {{"scan", a_prefix, PrefixEnd(a_prefix) + "x"}},
  };
  for (size_t i = 0; i < attacks.size(); ++i) {
    SCOPED_TRACE("attack " + std::to_string(i));
    auto r = Script(p.get(), "a", attacks[i]);
    ASSERT_FALSE(r.ok()) << "tenant a's op was committed";
    EXPECT_EQ(r.status().code(), Code::kInternal) << r.status().ToString();
    EXPECT_NE(r.status().message().find("tenant isolation"), std::string::npos)
        << r.status().ToString();
    EXPECT_NE(r.status().message().find("Ta/"), std::string::npos) << r.status().ToString();
    EXPECT_EQ(p->last_lsn(), 2u);
    EXPECT_EQ(Dump(p.get()), before) << "a refused op wrote something";
  }
  // The violation is named.
  auto r = Script(p.get(), "a", {{"delete", b, ""}});
  EXPECT_NE(r.status().message().find("delete of " + b), std::string::npos)
      << r.status().ToString();

  // Inside its own tenant an op reads, scans and writes freely.
  ASSERT_TRUE(Script(p.get(), "a",
                     {{"get", a, ""},
                      {"scan", a_prefix, PrefixEnd(a_prefix)},
                      {"put", a + "z", "mine"},
                      {"delete", a, ""}})
                  .ok());
  EXPECT_EQ(p->last_lsn(), 3u);
}

TEST(Partition, InvalidTenantIdIsRefused) {
  TempDir dir;
  ScriptMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  // Tenant "a/o" would own "Ta/o/...": tenant a's objects.
  auto r = Script(p.get(), "a/o", {{"put", TenantKeys("a/o").prefix() + "user/1", "x"}});
  EXPECT_EQ(r.status().code(), Code::kInternal) << r.status().ToString();
  EXPECT_EQ(p->last_lsn(), 0u);
  EXPECT_TRUE(Dump(p.get()).empty());
}

TEST(Partition, GlobalOpsAreNotConfined) {
  TempDir dir;
  ScriptMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  ASSERT_TRUE(Script(p.get(), "",
                     {{"put", "G/t/a", "1"},
                      {"put", TenantKeys("b").Organization(), "2"},
                      {"scan", "", "\x7f"}})  // the whole key space; \x7f keeps the op valid UTF-8
                  .ok());
  EXPECT_EQ(Dump(p.get()).size(), 3u);  // two keys and the log entry
}

// The replica path is confined too: a logged op that reaches out of its tenant is not applied.
TEST(Partition, ReplicaRefusesALoggedOpThatLeavesItsTenant) {
  TempDir dir;
  ScriptMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  proto::Op op;
  op.set_lsn(1);
  op.set_tenant_id("a");
  auto* step = op.mutable_create_tenant()->add_objects();
  step->set_type("put");
  step->set_id(TenantKeys("b").Organization());
  Status s = p->ApplyLogged(op);
  EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
  EXPECT_EQ(p->last_lsn(), 0u);
  EXPECT_TRUE(Dump(p.get()).empty());
}

// ------------------------------------------------------------------ concurrency

uint64_t Seed(uint64_t fallback) {
  const char* env = std::getenv("MERIDIAN_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 10) : fallback;
}

// Many writers on one partition: every acknowledged write has its own LSN, the LSNs are exactly
// 1..N, the log holds exactly those ops in order, and the state is what applying them in LSN
// order gives (writers pick keys at random from a small set, so they overwrite each other).
TEST(Partition, ConcurrentWritersGetDenseUniqueLsns) {
  constexpr int kThreads = 8, kWrites = 500, kKeys = 64;
  const uint64_t seed = Seed(20250117);
  std::cout << "ConcurrentWritersGetDenseUniqueLsns seed=" << seed
            << " (set MERIDIAN_TEST_SEED to replay)" << std::endl;
  TempDir dir;
  KvMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();

  struct Ack {
    uint64_t lsn;
    std::string key, value;
  };
  std::vector<std::vector<Ack>> acks(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(seed + t);
      for (int i = 0; i < kWrites; ++i) {
        std::string key = "k" + std::to_string(rng() % kKeys);
        std::string value = std::to_string(t) + ":" + std::to_string(i);
        auto lsn = Put(p.get(), key, value);
        if (!lsn.ok()) {
          errors[t] = lsn.status().ToString();
          return;
        }
        acks[t].push_back({*lsn, key, value});
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) ASSERT_EQ(errors[t], "") << "thread " << t;

  constexpr uint64_t kN = uint64_t{kThreads} * kWrites;
  std::vector<Ack> all;
  for (auto& a : acks) all.insert(all.end(), a.begin(), a.end());
  std::sort(all.begin(), all.end(), [](const Ack& x, const Ack& y) { return x.lsn < y.lsn; });
  ASSERT_EQ(all.size(), kN);
  for (uint64_t i = 0; i < kN; ++i) {
    ASSERT_EQ(all[i].lsn, i + 1) << "LSNs are not 1..N without gaps or repeats";
  }
  EXPECT_EQ(p->last_lsn(), kN);
  // Each thread saw its own LSNs increase.
  for (const auto& a : acks) {
    for (size_t i = 1; i < a.size(); ++i) ASSERT_LT(a[i - 1].lsn, a[i].lsn);
  }

  uint64_t next = 1;
  ASSERT_TRUE(p->ReadLog(1, [&](const proto::Op& op) {
                 if (op.lsn() != next || next > kN) {
                   ADD_FAILURE() << "log entry " << op.lsn() << " where " << next << " was due";
                   return false;
                 }
                 const Ack& want = all[next - 1];
                 EXPECT_EQ(op.put_object().id(), want.key) << "lsn " << next;
                 EXPECT_EQ(op.put_object().record_json(), want.value) << "lsn " << next;
                 ++next;
                 return true;
               }).ok());
  EXPECT_EQ(next - 1, kN) << "the log does not hold every acknowledged op";

  std::map<std::string, std::string> expected;
  for (const Ack& a : all) expected["T" + a.key] = a.value;  // LSN order: the last write wins
  std::map<std::string, std::string> state;
  for (auto& [k, v] : Dump(p.get())) {
    if (k[0] == 'T') state.emplace(k, v);
  }
  EXPECT_EQ(state, expected);
}

// ------------------------------------------------------------------ a replica's write paths

Partition::Builder PutBuilder(const std::string& id, const std::string& value) {
  return [id, value](const ReadView&, proto::Op* op) {
    op->mutable_put_object()->set_id(id);
    op->mutable_put_object()->set_record_json(value);
    return Status::Ok();
  };
}

// The state without the log and the meta keys: what a replica must agree on.
std::map<std::string, std::string> State(const ReadView& view) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(view.Scan("T", "U", false, [&](std::string_view k, std::string_view v) {
                    out.emplace(k, v);
                    return true;
                  }).ok());
  return out;
}

std::vector<proto::Op> Log(const Partition& p, uint64_t from = 1) {
  std::vector<proto::Op> out;
  Status s = p.ReadLog(from, [&](const proto::Op& op) {
    out.push_back(op);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<uint64_t> Lsns(const std::vector<proto::Op>& ops) {
  std::vector<uint64_t> out;
  for (const auto& op : ops) out.push_back(op.lsn());
  return out;
}

bool Has(const ReadView& view, const std::string& key) {
  auto got = view.Get(key);
  EXPECT_TRUE(got.ok());
  return got.ok() && got->has_value();
}

// A primary whose log holds `n` proposals at epoch 1, writing keys "Tk1".."Tk<n>".
std::unique_ptr<Partition> PrimaryWith(const std::string& path, StateMachine* m, int n) {
  auto p = std::move(Partition::Open("p", path, m)).value();
  for (int i = 1; i <= n; ++i) {
    EXPECT_TRUE(p->Propose(1, PutBuilder("k" + std::to_string(i), "v")).ok());
  }
  return p;
}

// A secondary that has appended `primary`'s whole log, applied nothing and synced nothing.
std::unique_ptr<Partition> SecondaryOf(const Partition& primary, const std::string& path,
                                       StateMachine* m) {
  auto s = std::move(Partition::Open("s", path, m)).value();
  EXPECT_TRUE(s->Append(Log(primary)).ok());
  return s;
}

TEST(PartitionReplica, ProposeStampsEpochAndFormatAndWriteStampsEpochZero) {
  TempDir a, b;
  KvMachine m;
  auto embedded = std::move(Partition::Open("e", a.path(), &m)).value();
  ASSERT_TRUE(embedded->Write(PutBuilder("k", "v")).ok());
  auto primary = std::move(Partition::Open("p", b.path(), &m)).value();
  ASSERT_TRUE(primary->Propose(7, [](const ReadView&, proto::Op* op) {
                        op->set_format(99);  // the store decides the format, not the builder
                        op->set_epoch(1);
                        op->mutable_put_object()->set_id("k");
                        return Status::Ok();
                      }).ok());
  auto e = Log(*embedded), p = Log(*primary);
  ASSERT_EQ(e.size(), 1u);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(e[0].epoch(), 0u);
  EXPECT_EQ(e[0].format(), kOpFormat);
  EXPECT_EQ(p[0].epoch(), 7u);
  EXPECT_EQ(p[0].format(), kOpFormat);
  EXPECT_EQ(*primary->EpochAt(1), 7u);
  // An epoch older than the log's last entry's is a deposed primary's.
  EXPECT_EQ(primary->Propose(6, PutBuilder("x", "y")).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(primary->Write(PutBuilder("x", "y")).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(primary->last_lsn(), 1u);
}

TEST(PartitionReplica, AppendWithoutApplyThenApplyThrough) {
  TempDir a, b;
  KvMachine m;
  auto primary = PrimaryWith(a.path(), &m, 5);
  {
    auto secondary = SecondaryOf(*primary, b.path(), &m);
    EXPECT_EQ(secondary->last_lsn(), 5u);
    EXPECT_EQ(secondary->applied(), 0u);
    EXPECT_EQ(secondary->durable_end(), 0u);
    EXPECT_TRUE(State(*secondary->Latest()).empty()) << "an appended entry was applied";
    EXPECT_EQ(secondary->ApplyThrough(3).code(), Code::kFailedPrecondition)
        << "applied an entry that is not durable yet";
    // Neither path that applies as it logs may run before the log is applied.
    EXPECT_EQ(secondary->Propose(1, PutBuilder("x", "y")).status().code(),
              Code::kFailedPrecondition);
    proto::Op next = Log(*primary)[0];
    next.set_lsn(6);
    EXPECT_EQ(secondary->ApplyLogged(next).code(), Code::kFailedPrecondition);

    ASSERT_EQ(*secondary->Sync(), 5u);
    ASSERT_TRUE(secondary->ApplyThrough(3).ok());
    EXPECT_EQ(secondary->applied(), 3u);
    auto view = secondary->Snapshot();
    EXPECT_TRUE(Has(*view, "Tk3"));
    EXPECT_FALSE(Has(*view, "Tk4"));
    ASSERT_TRUE(secondary->ApplyThrough(2).ok()) << "applying what is applied does nothing";
  }
  // Applied is persisted apart from the log's end.
  auto secondary = std::move(Partition::Open("s", b.path(), &m)).value();
  EXPECT_EQ(secondary->applied(), 3u);
  EXPECT_EQ(secondary->last_lsn(), 5u);
  EXPECT_EQ(secondary->durable_end(), 5u);
  EXPECT_FALSE(Has(*secondary->Latest(), "Tk4"));
  ASSERT_TRUE(secondary->ApplyThrough(5).ok());
  EXPECT_EQ(State(*secondary->Snapshot()), State(*primary->Snapshot()));
  // Applied caught up with the log's end: the meta key is gone, as in the old layout.
  EXPECT_FALSE(Has(*secondary->Latest(), "Mapplied"));
  EXPECT_EQ(Log(*secondary).size(), 5u);
}

// A crash loses at most what was appended after the last Sync, and never part of a batch.
TEST(PartitionReplica, SyncedAppendsSurviveACrashAndUnsyncedOnesGoWhole) {
  for (SyncFailure outcome : {SyncFailure::kDropUnsynced, SyncFailure::kKeepUnsynced}) {
    SCOPED_TRACE(outcome == SyncFailure::kDropUnsynced ? "dropped" : "kept");
    TempDir a, b;
    KvMachine m;
    FaultEnv env;
    PartitionOptions options;
    options.env = &env;
    auto primary = PrimaryWith(a.path(), &m, 6);
    auto log = Log(*primary);
    {
      auto s = std::move(Partition::Open("s", b.path(), &m, options)).value();
      ASSERT_TRUE(s->Append({log.begin(), log.begin() + 2}).ok());
      ASSERT_EQ(*s->Sync(), 2u);
      ASSERT_TRUE(s->Append({log.begin() + 2, log.end()}).ok());  // one batch of four
      // The crash: the unsynced tail is lost (or lands) when the next fsync fails.
      env.FailNextWalSync(outcome);
      ASSERT_FALSE(s->Sync().ok());
      EXPECT_GT(env.injected_faults(), 0u);
      EXPECT_EQ(s->durable_end(), 2u);
      EXPECT_EQ(s->Append({}).code(), Code::kUnavailable) << "a failed sync stops writes";
      EXPECT_EQ(s->Sync().status().code(), Code::kUnavailable);
    }
    env.Heal();
    auto s = std::move(Partition::Open("s", b.path(), &m, options)).value();
    auto got = Lsns(Log(*s));
    if (outcome == SyncFailure::kDropUnsynced) {
      EXPECT_EQ(got, (std::vector<uint64_t>{1, 2}));
    } else {
      EXPECT_EQ(got, (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
    }
    EXPECT_EQ(s->last_lsn(), got.size());
    EXPECT_EQ(s->applied(), 0u);
  }
}

TEST(PartitionReplica, GroupCommitOneSyncMakesManyProposalsDurable) {
  TempDir dir;
  KvMachine m;
  FaultEnv env;
  PartitionOptions options;
  options.env = &env;
  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  uint64_t before = env.wal_syncs();
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(p->Propose(1, PutBuilder("k", "v")).ok());
  EXPECT_EQ(env.wal_syncs(), before) << "a proposal synced on its own";
  EXPECT_EQ(p->durable_end(), 0u);
  EXPECT_EQ(p->applied(), 20u);
  ASSERT_EQ(*p->Sync(), 20u);
  EXPECT_EQ(env.wal_syncs(), before + 1) << "one fsync for all twenty";
}

TEST(PartitionReplica, TruncateRefusesBelowAppliedAndIsDurable) {
  TempDir a, b;
  KvMachine m;
  auto primary = PrimaryWith(a.path(), &m, 5);
  {
    auto s = SecondaryOf(*primary, b.path(), &m);
    ASSERT_TRUE(s->Sync().ok());
    ASSERT_TRUE(s->ApplyThrough(3).ok());
    EXPECT_EQ(s->TruncateAfter(2).code(), Code::kFailedPrecondition);
    EXPECT_EQ(s->TruncateAfter(6).code(), Code::kFailedPrecondition);
    EXPECT_EQ(s->last_lsn(), 5u);
    ASSERT_TRUE(s->TruncateAfter(4).ok());
    EXPECT_EQ(s->last_lsn(), 4u);
    EXPECT_EQ(s->durable_end(), 4u);
  }
  auto s = std::move(Partition::Open("s", b.path(), &m)).value();
  EXPECT_EQ(Lsns(Log(*s)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(s->applied(), 3u);
  ASSERT_TRUE(s->TruncateAfter(3).ok());
  EXPECT_FALSE(Has(*s->Latest(), "Mapplied")) << "applied == log end is said by the key's absence";
  // A new primary's entry takes the truncated place.
  proto::Op op = Log(*primary)[3];
  op.set_epoch(2);
  op.mutable_put_object()->set_record_json("new");
  ASSERT_TRUE(s->Append({op}).ok());
  EXPECT_EQ(*s->EpochAt(4), 2u);
  EXPECT_EQ(*s->EpochAt(3), 1u);
  ASSERT_TRUE(s->Sync().ok());
  ASSERT_TRUE(s->ApplyThrough(4).ok());
  EXPECT_EQ(s->Latest()->Get("Tk4")->value_or(""), "new");
  // An older epoch cannot follow a newer one.
  op.set_lsn(5);
  op.set_epoch(1);
  EXPECT_EQ(s->Append({op}).code(), Code::kFailedPrecondition);
}

TEST(PartitionReplica, NewerOpFormatIsRefused) {
  TempDir dir;
  KvMachine m;
  proto::Op op;
  op.set_lsn(1);
  op.set_format(kOpFormat + 1);
  op.mutable_put_object()->set_id("k");
  {
    auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
    Status s = p->Append({op});
    EXPECT_EQ(s.code(), Code::kFailedPrecondition);
    EXPECT_NE(s.message().find("upgrade this node"), std::string::npos) << s.ToString();
    EXPECT_EQ(p->ApplyLogged(op).code(), Code::kFailedPrecondition);
    EXPECT_EQ(p->last_lsn(), 0u);
    op.set_format(0);  // logged before ops were stamped: applies as format 1
    ASSERT_TRUE(p->ApplyLogged(op).ok());
  }
  // A log written by a newer binary, then opened by this one (a downgrade): not applied.
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), dir.path(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    op.set_lsn(2);
    op.set_format(kOpFormat + 1);
    std::string applied;
    PutBigEndian64(&applied, 1);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), LogKey(2), op.SerializeAsString()).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "Mapplied", applied).ok());
  }
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  EXPECT_EQ(p->last_lsn(), 2u);
  EXPECT_EQ(p->applied(), 1u);
  Status s = p->ApplyThrough(2);
  EXPECT_EQ(s.code(), Code::kFailedPrecondition) << s.ToString();
  EXPECT_EQ(p->applied(), 1u);
}

TEST(PartitionReplica, VisibilityHidesProposalsUntilSetVisible) {
  TempDir dir;
  KvMachine m;
  PartitionOptions options;
  options.track_visibility = true;
  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  ASSERT_TRUE(p->Propose(1, PutBuilder("a", "1")).ok());
  EXPECT_FALSE(Has(*p->Latest(), "Ta")) << "visible before SetVisible";
  EXPECT_FALSE(Has(*p->Snapshot(), "Ta"));
  p->SetVisible(1);
  EXPECT_TRUE(Has(*p->Latest(), "Ta"));

  // A view taken while everything is visible does not see a later proposal either.
  auto before = p->Latest();
  ASSERT_TRUE(p->Propose(1, PutBuilder("b", "2")).ok());
  EXPECT_FALSE(Has(*before, "Tb"));
  // The next proposal's builder reads the latest state, invisible entries included.
  bool builder_saw_b = false;
  ASSERT_TRUE(p->Propose(1, [&](const ReadView& latest, proto::Op* op) {
                  builder_saw_b = latest.Get("Tb")->has_value();
                  op->mutable_put_object()->set_id("c");
                  return Status::Ok();
                }).ok());
  EXPECT_TRUE(builder_saw_b);
  EXPECT_FALSE(Has(*p->Latest(), "Tb"));
  EXPECT_FALSE(Has(*p->Snapshot(), "Tc"));
  EXPECT_EQ(p->visible(), 1u);

  p->SetVisible(2);
  auto at2 = p->Snapshot();
  EXPECT_TRUE(Has(*at2, "Tb"));
  EXPECT_FALSE(Has(*at2, "Tc"));
  EXPECT_FALSE(Has(*p->Latest(), "Tc"));
  p->SetVisible(1);  // never backwards
  EXPECT_TRUE(Has(*p->Latest(), "Tb"));
  p->SetVisible(3);
  EXPECT_TRUE(Has(*p->Latest(), "Tc"));
  EXPECT_FALSE(Has(*at2, "Tc")) << "a view keeps its snapshot";
  p->SetVisible(99);  // clamped to applied
  EXPECT_EQ(p->visible(), 3u);

  // Without tracking (the embedded default), a proposal is seen at once.
  TempDir dir2;
  auto e = std::move(Partition::Open("e", dir2.path(), &m)).value();
  ASSERT_TRUE(e->Propose(1, PutBuilder("a", "1")).ok());
  EXPECT_TRUE(Has(*e->Latest(), "Ta"));
}

TEST(PartitionReplica, ASyncRecordsTheVisiblePointAReopenedReplicaTrusts) {
  TempDir dir;
  KvMachine m;
  PartitionOptions options;
  options.track_visibility = true;
  {
    auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
    for (const char* k : {"a", "b", "c"}) ASSERT_TRUE(p->Propose(1, PutBuilder(k, "1")).ok());
    p->SetVisible(2);
    ASSERT_TRUE(p->Sync().ok());
    p->SetVisible(3);  // not synced: the reopened partition cannot know it
  }
  auto p = std::move(Partition::Open("p", dir.path(), &m, options)).value();
  EXPECT_EQ(p->applied(), 3u);
  EXPECT_EQ(p->known_committed(), 2u) << "a restarted replica would trust its unacknowledged tail";

  // A partition that never recorded one (the embedded default's) knows everything committed.
  TempDir dir2;
  {
    auto e = std::move(Partition::Open("e", dir2.path(), &m)).value();
    ASSERT_TRUE(e->Write(PutBuilder("a", "1")).ok());
  }
  auto e = std::move(Partition::Open("e", dir2.path(), &m)).value();
  EXPECT_EQ(e->known_committed(), 1u);
}

TEST(PartitionReplica, ApplyThroughIsHiddenUntilVisible) {
  TempDir a, b;
  KvMachine m;
  auto primary = PrimaryWith(a.path(), &m, 3);
  PartitionOptions options;
  options.track_visibility = true;
  auto s = std::move(Partition::Open("s", b.path(), &m, options)).value();
  ASSERT_TRUE(s->Append(Log(*primary)).ok());
  ASSERT_TRUE(s->Sync().ok());
  ASSERT_TRUE(s->ApplyThrough(3).ok());
  EXPECT_FALSE(Has(*s->Latest(), "Tk1"));
  s->SetVisible(2);
  EXPECT_TRUE(Has(*s->Latest(), "Tk2"));
  EXPECT_FALSE(Has(*s->Latest(), "Tk3"));
}

TEST(PartitionReplica, TrimKeepsTheBaseEpochAndRefusesReadsBelowIt) {
  TempDir dir;
  KvMachine m;
  const uint64_t epochs[] = {1, 1, 2, 2, 3};
  {
    auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
    for (uint64_t e : epochs) ASSERT_TRUE(p->Propose(e, PutBuilder("k", std::to_string(e))).ok());
    EXPECT_EQ(p->TrimLogThrough(6).code(), Code::kFailedPrecondition) << "beyond applied";
    ASSERT_TRUE(p->TrimLogThrough(3).ok());
    EXPECT_EQ(p->base(), 3u);
    EXPECT_EQ(p->base_epoch(), 2u);
    EXPECT_EQ(*p->EpochAt(3), 2u);
    EXPECT_EQ(*p->EpochAt(4), 2u);
    EXPECT_EQ(p->EpochAt(2).status().code(), Code::kFailedPrecondition);
    EXPECT_EQ(p->EpochAt(6).status().code(), Code::kFailedPrecondition);
    std::vector<proto::Op> out;
    EXPECT_EQ(p->ReadLog(3, 1 << 20, &out).code(), Code::kFailedPrecondition);
    EXPECT_EQ(p->ReadLog(1, [](const proto::Op&) { return true; }).code(),
              Code::kFailedPrecondition);
    ASSERT_TRUE(p->ReadLog(4, 1 << 20, &out).ok());
    EXPECT_EQ(Lsns(out), (std::vector<uint64_t>{4, 5}));
    ASSERT_TRUE(p->TrimLogThrough(2).ok()) << "trimming what is trimmed does nothing";
    EXPECT_EQ(p->base(), 3u);
  }
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  EXPECT_EQ(p->base(), 3u);
  EXPECT_EQ(p->base_epoch(), 2u);
  EXPECT_EQ(p->last_lsn(), 5u);
  // The whole log trimmed: its end is the base, and the next op follows it.
  ASSERT_TRUE(p->TrimLogThrough(5).ok());
  EXPECT_TRUE(Log(*p, 6).empty());
  p.reset();
  p = std::move(Partition::Open("p", dir.path(), &m)).value();
  EXPECT_EQ(p->last_lsn(), 5u);
  EXPECT_EQ(p->applied(), 5u);
  EXPECT_EQ(*p->EpochAt(5), 3u);
  EXPECT_EQ(*p->Propose(3, PutBuilder("k", "6")), 6u);
  EXPECT_EQ(p->Latest()->Get("Tk")->value_or(""), "6");
}

TEST(PartitionReplica, ReadLogStopsAtMaxBytesButReturnsAtLeastOne) {
  TempDir dir;
  KvMachine m;
  auto p = std::move(Partition::Open("p", dir.path(), &m)).value();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(p->Propose(1, PutBuilder("k", std::string(100, 'x'))).ok());
  size_t one = Log(*p)[0].ByteSizeLong();
  std::vector<proto::Op> out;
  ASSERT_TRUE(p->ReadLog(1, 1, &out).ok());
  EXPECT_EQ(Lsns(out), (std::vector<uint64_t>{1}));
  out.clear();
  ASSERT_TRUE(p->ReadLog(2, 3 * one + one / 2, &out).ok());
  EXPECT_EQ(Lsns(out), (std::vector<uint64_t>{2, 3, 4}));
  out.clear();
  ASSERT_TRUE(p->ReadLog(11, 1 << 20, &out).ok());
  EXPECT_TRUE(out.empty());
}

// ------------------------------------------------------------------ checkpoints

// Copies a checkpoint into a staging directory in small chunks, as the network would.
Status Transfer(const Checkpoint& cp, CheckpointStaging* staging, size_t chunk = 4096) {
  for (const std::string& f : cp.files()) {
    for (uint64_t offset = 0;;) {
      std::string data;
      MERIDIAN_RETURN_IF_ERROR(cp.Read(f, offset, chunk, &data));
      offset += data.size();
      bool end = data.size() < chunk;
      MERIDIAN_RETURN_IF_ERROR(staging->Add(f, data, end));
      if (end) break;
    }
  }
  return Status::Ok();
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A source partition at epoch 4 whose state has some keys, with its log trimmed part way.
std::unique_ptr<Partition> Source(const std::string& path, StateMachine* m) {
  auto p = std::move(Partition::Open("src", path, m)).value();
  for (int i = 0; i < 300; ++i) {
    EXPECT_TRUE(p->Propose(i < 200 ? 3 : 4, PutBuilder("k" + std::to_string(i % 97),
                                                       std::string(i, 'v')))
                    .ok());
  }
  EXPECT_TRUE(p->Sync().ok());
  EXPECT_TRUE(p->TrimLogThrough(100).ok());
  return p;
}

TEST(PartitionCheckpoint, RoundTripGivesTheSameStateAndPositions) {
  TempDir a, b;
  KvMachine m;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  EXPECT_EQ(cp->lsn(), 300u);
  EXPECT_EQ(cp->epoch(), 4u);
  // Writes after the checkpoint was taken are not in it.
  ASSERT_TRUE(src->Propose(4, PutBuilder("late", "x")).ok());

  auto dst = std::move(Partition::Open("dst", b.path(), &m)).value();
  ASSERT_TRUE(dst->Propose(1, PutBuilder("old", "x")).ok());
  auto staging = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
  ASSERT_TRUE(dst->Install(std::move(staging), cp->lsn(), cp->epoch()).ok());
  auto checkpoint_dir = Entries(a.path());
  cp.reset();
  EXPECT_LT(Entries(a.path()).size(), checkpoint_dir.size()) << "the checkpoint was not removed";

  auto expected = State(*src->Snapshot());
  expected.erase("Tlate");
  auto check = [&](Partition* p) {
    EXPECT_EQ(State(*p->Snapshot()), expected);
    EXPECT_FALSE(Has(*p->Latest(), "Told"));
    EXPECT_EQ(p->base(), 300u);
    EXPECT_EQ(p->base_epoch(), 4u);
    EXPECT_EQ(p->applied(), 300u);
    EXPECT_EQ(p->last_lsn(), 300u);
    EXPECT_EQ(p->durable_end(), 300u);
    EXPECT_EQ(p->visible(), 300u);
    EXPECT_EQ(*p->EpochAt(300), 4u);
    EXPECT_TRUE(Log(*p, 301).empty());
  };
  check(dst.get());
  dst.reset();
  dst = std::move(Partition::Open("dst", b.path(), &m)).value();
  check(dst.get());
  // The old layout's files are gone; the partition lives in the directory ACTIVE names.
  EXPECT_EQ(Entries(b.path()), (std::vector<std::string>{"ACTIVE", "data-1"}));
  // It continues the source's log.
  ASSERT_TRUE(dst->Append(Log(*src, 301)).ok());
  ASSERT_TRUE(dst->Sync().ok());
  ASSERT_TRUE(dst->ApplyThrough(301).ok());
  EXPECT_EQ(State(*dst->Snapshot()), State(*src->Snapshot()));

  // A second install replaces data-1 with data-2.
  auto cp2 = std::move(src->OpenCheckpoint()).value();
  auto staging2 = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(Transfer(*cp2, staging2.get(), 1 << 20).ok());
  ASSERT_TRUE(dst->Install(std::move(staging2), cp2->lsn(), cp2->epoch()).ok());
  EXPECT_EQ(Entries(b.path()), (std::vector<std::string>{"ACTIVE", "data-2"}));
}

TEST(PartitionCheckpoint, InstallRefusesAWrongPositionOrAnIncompleteStaging) {
  TempDir a, b;
  KvMachine m;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  auto dst = std::move(Partition::Open("dst", b.path(), &m)).value();
  ASSERT_TRUE(dst->Propose(1, PutBuilder("old", "x")).ok());

  auto staging = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
  EXPECT_EQ(dst->Install(std::move(staging), cp->lsn() - 1, cp->epoch()).code(),
            Code::kInvalidArgument);
  staging = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
  EXPECT_EQ(dst->Install(std::move(staging), cp->lsn(), cp->epoch() + 1).code(),
            Code::kInvalidArgument);
  staging = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(staging->Add(cp->files()[0], "x", /*end_of_file=*/false).ok());
  EXPECT_EQ(staging->Add(cp->files()[1], "x", false).code(), Code::kInvalidArgument);
  EXPECT_EQ(dst->Install(std::move(staging), cp->lsn(), cp->epoch()).code(),
            Code::kInvalidArgument);
  staging = std::move(dst->BeginInstall()).value();
  for (const char* bad : {"", ".", "..", "../x", "a/b"}) {
    EXPECT_EQ(staging->Add(bad, "x", true).code(), Code::kInvalidArgument) << bad;
  }
  staging.reset();
  EXPECT_TRUE(Has(*dst->Latest(), "Told"));
  EXPECT_EQ(dst->last_lsn(), 1u);
  ASSERT_TRUE(dst->Writable().ok());
  // Nothing of the failed installs is left.
  for (const auto& e : Entries(b.path())) EXPECT_EQ(e.rfind("data-", 0), std::string::npos) << e;
}

// A crash anywhere in an install leaves the old state or the new one, never a mix: simulated by
// stopping the install at each step (as a crash would leave the files) and reopening.
TEST(PartitionCheckpoint, InstallIsAtomicAcrossACrash) {
  TempDir a;
  KvMachine m;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  auto expected = State(*src->Snapshot());
  for (std::string step : {"install:before-switch", "install:after-switch"}) {
    SCOPED_TRACE(step);
    TempDir b;
    PartitionOptions options;
    options.install_fail_point = [step](std::string_view at) {
      return at == step ? Internal("crash at " + std::string(at)) : Status::Ok();
    };
    {
      auto dst = std::move(Partition::Open("dst", b.path(), &m, options)).value();
      ASSERT_TRUE(dst->Propose(1, PutBuilder("old", "x")).ok());
      ASSERT_TRUE(dst->Sync().ok());
      auto staging = std::move(dst->BeginInstall()).value();
      ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
      Status s = dst->Install(std::move(staging), cp->lsn(), cp->epoch());
      ASSERT_FALSE(s.ok());
      EXPECT_NE(s.message().find("crash at"), std::string::npos) << s.ToString();
      EXPECT_TRUE(Has(*dst->Latest(), "Told")) << "the running partition switched part way";
    }
    auto dst = std::move(Partition::Open("dst", b.path(), &m)).value();
    if (step == "install:before-switch") {
      EXPECT_EQ(State(*dst->Snapshot()), (std::map<std::string, std::string>{{"Told", "x"}}));
      EXPECT_EQ(dst->last_lsn(), 1u);
      EXPECT_EQ(dst->base(), 0u);
      for (const auto& e : Entries(b.path())) {
        EXPECT_EQ(e.rfind("data-", 0), std::string::npos) << "leftover " << e;
      }
    } else {
      EXPECT_EQ(State(*dst->Snapshot()), expected);
      EXPECT_EQ(dst->last_lsn(), 300u);
      EXPECT_EQ(dst->base(), 300u);
      EXPECT_EQ(Entries(b.path()), (std::vector<std::string>{"ACTIVE", "data-1"}));
    }
  }
}

// A storage fault while the files arrive fails the install and leaves the old state working.
TEST(PartitionCheckpoint, FailedStagingWriteLeavesTheOldState) {
  TempDir a, b;
  KvMachine m;
  FaultEnv env;
  PartitionOptions options;
  options.env = &env;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  {
    auto dst = std::move(Partition::Open("dst", b.path(), &m, options)).value();
    ASSERT_TRUE(dst->Write(PutBuilder("old", "x")).ok());
    auto staging = std::move(dst->BeginInstall()).value();
    env.SetWriteFault(WriteFault::kNoSpace);
    Status s = Transfer(*cp, staging.get());
    env.Heal();
    EXPECT_EQ(s.code(), Code::kInternal) << s.ToString();
    EXPECT_GT(env.injected_faults(), 0u);
    staging.reset();
    EXPECT_TRUE(Has(*dst->Latest(), "Told"));
    EXPECT_EQ(*dst->Write(PutBuilder("after", "y")), 2u);
  }
  auto dst = std::move(Partition::Open("dst", b.path(), &m)).value();
  EXPECT_EQ(dst->last_lsn(), 2u);
  EXPECT_TRUE(Has(*dst->Latest(), "Told"));
}

TEST(PartitionCheckpoint, AnInstalledPositionIsNotRecordedAsCommittedUntilConfirmed) {
  TempDir a, b;
  KvMachine m;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  PartitionOptions options;
  options.track_visibility = true;
  {
    auto dst = std::move(Partition::Open("dst", b.path(), &m, options)).value();
    auto staging = std::move(dst->BeginInstall()).value();
    ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
    ASSERT_TRUE(dst->Install(std::move(staging), cp->lsn(), cp->epoch()).ok());
    ASSERT_TRUE(dst->Sync().ok());
  }
  // The checkpoint may run ahead of the commit point: a reopened replica must not trust it.
  auto dst = std::move(Partition::Open("dst", b.path(), &m, options)).value();
  EXPECT_EQ(dst->applied(), 300u);
  EXPECT_EQ(dst->known_committed(), 0u);
  dst->SetVisible(300);
  ASSERT_TRUE(dst->Sync().ok());
  dst.reset();
  dst = std::move(Partition::Open("dst", b.path(), &m, options)).value();
  EXPECT_EQ(dst->known_committed(), 300u);
}

TEST(PartitionCheckpoint, ViewOpenedBeforeInstallKeepsReadingTheOldState) {
  TempDir a, b;
  KvMachine m;
  auto src = Source(a.path(), &m);
  auto cp = std::move(src->OpenCheckpoint()).value();
  auto dst = std::move(Partition::Open("dst", b.path(), &m)).value();
  ASSERT_TRUE(dst->Write(PutBuilder("old", "x")).ok());
  auto snapshot = dst->Snapshot();
  auto latest = dst->Latest();
  auto staging = std::move(dst->BeginInstall()).value();
  ASSERT_TRUE(Transfer(*cp, staging.get()).ok());
  ASSERT_TRUE(dst->Install(std::move(staging), cp->lsn(), cp->epoch()).ok());
  EXPECT_FALSE(Has(*dst->Latest(), "Told"));
  EXPECT_TRUE(Has(*dst->Latest(), "Tk1"));
  for (ReadView* v : {snapshot.get(), latest.get()}) {
    EXPECT_EQ(State(*v), (std::map<std::string, std::string>{{"Told", "x"}}));
  }
  // The old layout's files stay while the views hold them, and go with the last one.
  EXPECT_TRUE(std::filesystem::exists(b.File("CURRENT")));
  snapshot.reset();
  EXPECT_TRUE(std::filesystem::exists(b.File("CURRENT")));
  latest.reset();
  EXPECT_EQ(Entries(b.path()), (std::vector<std::string>{"ACTIVE", "data-1"}));
}

TEST(Keys, IndexEncodingKeepsValueOrderAndPrefixesApart) {
  TenantKeys k("t1");
  std::string id(36, 'a');
  EXPECT_LT(k.Index("user", "displayName", "ab", id), k.Index("user", "displayName", "abc", id));
  EXPECT_LT(k.Index("user", "displayName", std::string("a\0", 2), id),
            k.Index("user", "displayName", "a\x01", id));
  std::string p = k.IndexPrefix("user", "displayName") + EncodeIndexPrefix("ab");
  std::string key = k.Index("user", "displayName", "abz", id);
  EXPECT_TRUE(key >= p && key < PrefixEnd(p));
  EXPECT_NE(TenantKeys("t1").Object("user", "x").rfind(TenantKeys("t12").prefix(), 0), 0u);
}

}  // namespace
}  // namespace meridian::store
