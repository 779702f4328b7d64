#include "store/partition.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "store/keys.h"

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

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meridian-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
