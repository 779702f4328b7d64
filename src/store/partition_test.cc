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
