#include "replication/partition_replica_store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "common/testing/temp_dir.h"

namespace meridian::replication {
namespace {

using testing::TempDir;

// Writes put_object.record_json under "T" + put_object.id.
class KvMachine final : public store::StateMachine {
 public:
  Status Apply(const proto::Op& op, store::WriteContext* ctx) override {
    ctx->Put("T" + op.put_object().id(), op.put_object().record_json());
    return Status::Ok();
  }
};

ReplicaStore::Builder Put(const std::string& id, const std::string& value) {
  return [id, value](const store::ReadView&, proto::Op* op) {
    op->mutable_put_object()->set_id(id);
    op->mutable_put_object()->set_record_json(value);
    return Status::Ok();
  };
}

std::map<std::string, std::string> State(const store::Partition& p) {
  std::map<std::string, std::string> out;
  EXPECT_TRUE(p.Snapshot()->Scan("T", "U", false, [&](std::string_view k, std::string_view v) {
                 out.emplace(k, v);
                 return true;
               }).ok());
  return out;
}

// FNV-1a over every key and value with their lengths: equal states hash equal.
uint64_t Hash(const std::map<std::string, std::string>& kv) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (char c : std::to_string(s.size()) + ":" + std::string(s)) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
    }
  };
  for (const auto& [k, v] : kv) {
    mix(k);
    mix(v);
  }
  return h;
}

std::unique_ptr<store::Partition> OpenReplica(const std::string& path, store::StateMachine* m) {
  store::PartitionOptions options;
  options.track_visibility = true;
  return std::move(store::Partition::Open("p", path, m, options)).value();
}

// Random letters (valid UTF-8, as a record is), so that compression cannot shrink the files
// below a chunk.
std::string Noise(std::mt19937_64* rng, size_t n) {
  std::string s(n, 'a');
  for (char& c : s) c = static_cast<char>('a' + (*rng)() % 26);
  return s;
}

TEST(PartitionReplicaStore, PrimaryAndSecondaryThroughTheInterface) {
  TempDir a, b;
  KvMachine m;
  auto pp = OpenReplica(a.path(), &m), sp = OpenReplica(b.path(), &m);
  PartitionReplicaStore primary(pp.get()), secondary(sp.get());
  for (int i = 1; i <= 4; ++i) {
    ASSERT_EQ(*primary.Propose(2, Put("k" + std::to_string(i), "v")), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(primary.applied(), 4u);
  EXPECT_EQ(primary.log_end(), 4u);
  EXPECT_EQ(primary.durable_end(), 0u);
  ASSERT_EQ(*primary.Sync(), 4u);

  std::vector<proto::Op> batch;
  ASSERT_TRUE(primary.ReadLog(1, 1 << 20, &batch).ok());
  ASSERT_EQ(batch.size(), 4u);
  for (const auto& op : batch) {
    EXPECT_EQ(op.epoch(), 2u);
    EXPECT_EQ(op.format(), kOpFormat);
  }
  ASSERT_TRUE(secondary.Append(batch).ok());
  EXPECT_EQ(*secondary.Sync(), 4u);
  EXPECT_EQ(secondary.applied(), 0u);
  EXPECT_EQ(*secondary.EpochAt(4), 2u);
  EXPECT_EQ(*secondary.EpochAt(0), 0u);

  // Committed through 3: the secondary applies and shows it; the primary shows it too.
  ASSERT_TRUE(secondary.ApplyThrough(3).ok());
  secondary.SetVisible(3);
  primary.SetVisible(3);
  EXPECT_EQ(State(*sp), State(*pp)) << "both show the state through 3";
  EXPECT_FALSE(State(*pp).count("Tk4"));
  EXPECT_EQ(secondary.TruncateAfter(2).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(secondary.TruncateAfter(3).ok());
  EXPECT_EQ(secondary.log_end(), 3u);

  proto::Op newer = batch[3];
  newer.set_format(kOpFormat + 1);
  EXPECT_EQ(secondary.Append({newer}).code(), Code::kFailedPrecondition);

  ASSERT_TRUE(primary.TrimLogThrough(2).ok());
  EXPECT_EQ(primary.base(), 2u);
  EXPECT_EQ(primary.base_epoch(), 2u);
  batch.clear();
  EXPECT_EQ(primary.ReadLog(2, 1 << 20, &batch).code(), Code::kFailedPrecondition);
}

TEST(PartitionReplicaStore, CheckpointStreamsInChunksAndInstallsTheSameState) {
  TempDir a, b;
  KvMachine m;
  std::mt19937_64 rng(20250301);
  auto pp = OpenReplica(a.path(), &m);
  PartitionReplicaStore primary(pp.get());
  // About 3 MiB of incompressible values, so that some file spans several chunks.
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(primary.Propose(i < 150 ? 5 : 6, Put("k" + std::to_string(i), Noise(&rng, 10000)))
                    .ok());
  }
  ASSERT_TRUE(primary.Sync().ok());
  primary.SetVisible(300);

  auto reader = std::move(primary.OpenCheckpoint()).value();
  auto dp = OpenReplica(b.path(), &m);
  PartitionReplicaStore secondary(dp.get());
  ASSERT_TRUE(secondary.Propose(1, Put("stale", "x")).ok());
  auto writer = std::move(secondary.BeginInstall()).value();
  size_t chunks = 0, multi_chunk_files = 0, in_file = 0;
  proto::CheckpointChunk chunk;
  for (;;) {
    auto more = reader->Next(&chunk);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    if (chunks == 0) {
      EXPECT_EQ(chunk.lsn(), 300u);
      EXPECT_EQ(chunk.epoch(), 6u);
    } else {
      EXPECT_EQ(chunk.lsn(), 0u) << "only the first chunk carries the position";
    }
    EXPECT_LE(chunk.data().size(), kCheckpointChunkBytes);
    ++in_file;
    if (chunk.end_of_file()) {
      if (in_file > 1) ++multi_chunk_files;
      in_file = 0;
    }
    ++chunks;
    ASSERT_TRUE(writer->Add(chunk).ok());
  }
  EXPECT_EQ(in_file, 0u) << "the last file did not end";
  EXPECT_GT(multi_chunk_files, 0u) << "no file needed more than one chunk: the test is too small";
  ASSERT_TRUE(secondary.Install(std::move(writer)).ok());

  EXPECT_EQ(Hash(State(*dp)), Hash(State(*pp)));
  EXPECT_EQ(State(*dp).size(), 300u);
  EXPECT_EQ(secondary.base(), 300u);
  EXPECT_EQ(secondary.base_epoch(), 6u);
  EXPECT_EQ(secondary.applied(), 300u);
  EXPECT_EQ(secondary.log_end(), 300u);
  EXPECT_EQ(secondary.durable_end(), 300u);
  EXPECT_EQ(*secondary.EpochAt(300), 6u);

  // The secondary follows the primary's log from there.
  ASSERT_TRUE(primary.Propose(6, Put("after", "y")).ok());
  std::vector<proto::Op> next;
  ASSERT_TRUE(primary.ReadLog(301, 1 << 20, &next).ok());
  ASSERT_TRUE(secondary.Append(next).ok());
  ASSERT_TRUE(secondary.Sync().ok());
  ASSERT_TRUE(secondary.ApplyThrough(301).ok());
  secondary.SetVisible(301);
  EXPECT_EQ(State(*dp).count("Tafter"), 1u);
}

class OtherWriter final : public CheckpointWriter {
 public:
  Status Add(const proto::CheckpointChunk&) override { return Status::Ok(); }
};

TEST(PartitionReplicaStore, InstallRefusesForeignEmptyOrMislabelledCheckpoints) {
  TempDir a, b;
  KvMachine m;
  auto pp = OpenReplica(a.path(), &m), dp = OpenReplica(b.path(), &m);
  PartitionReplicaStore primary(pp.get()), secondary(dp.get());
  ASSERT_TRUE(primary.Propose(1, Put("k", "v")).ok());
  ASSERT_TRUE(secondary.Propose(1, Put("mine", "x")).ok());
  secondary.SetVisible(1);

  EXPECT_EQ(secondary.Install(std::make_unique<OtherWriter>()).code(), Code::kInvalidArgument);
  EXPECT_EQ(secondary.Install(std::move(secondary.BeginInstall()).value()).code(),
            Code::kInvalidArgument);

  auto reader = std::move(primary.OpenCheckpoint()).value();
  auto writer = std::move(secondary.BeginInstall()).value();
  proto::CheckpointChunk chunk;
  bool first = true;
  while (*reader->Next(&chunk)) {
    if (first) chunk.set_lsn(chunk.lsn() + 5);  // a sender that lies about the position
    first = false;
    ASSERT_TRUE(writer->Add(chunk).ok());
  }
  EXPECT_EQ(secondary.Install(std::move(writer)).code(), Code::kInvalidArgument);
  EXPECT_EQ(State(*dp), (std::map<std::string, std::string>{{"Tmine", "x"}}));
  EXPECT_EQ(secondary.log_end(), 1u);
}

}  // namespace
}  // namespace meridian::replication
