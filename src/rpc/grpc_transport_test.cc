#include "rpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "common/testing/temp_dir.h"
#include "meridian/replication.grpc.pb.h"
#include "rpc/cluster_certs.h"
#include "rpc/grpc_status.h"

namespace meridian::rpc {
namespace {

using namespace std::chrono_literals;
using replication::Reply;

// The bytes of checkpoint file `file` at `offset`: a pattern that shows any reordering.
char PatternByte(int file, size_t offset) {
  return static_cast<char>((offset * 31 + offset / 7 + static_cast<size_t>(file) * 101) & 0xff);
}

// Two files of a checkpoint, `chunk_bytes` per chunk; the first chunk carries lsn 42, epoch 7.
class PatternReader final : public replication::CheckpointReader {
 public:
  PatternReader(std::vector<size_t> file_sizes, size_t chunk_bytes)
      : sizes_(std::move(file_sizes)), chunk_bytes_(chunk_bytes) {}
  Result<bool> Next(proto::CheckpointChunk* chunk) override {
    if (file_ >= sizes_.size()) return false;
    if (first_) {
      chunk->set_lsn(42);
      chunk->set_epoch(7);
      first_ = false;
    }
    size_t n = std::min(chunk_bytes_, sizes_[file_] - offset_);
    std::string data(n, '\0');
    for (size_t i = 0; i < n; ++i) data[i] = PatternByte(static_cast<int>(file_), offset_ + i);
    chunk->set_file("file-" + std::to_string(file_));
    chunk->set_data(std::move(data));
    offset_ += n;
    if (offset_ == sizes_[file_]) {
      chunk->set_end_of_file(true);
      ++file_;
      offset_ = 0;
    }
    return true;
  }

 private:
  std::vector<size_t> sizes_;
  size_t chunk_bytes_;
  size_t file_ = 0, offset_ = 0;
  bool first_ = true;
};

// Collects the chunks and checks them against PatternReader's bytes as they come.
class CheckingWriter final : public replication::CheckpointWriter {
 public:
  Status Add(const proto::CheckpointChunk& chunk) override {
    if (chunks_ == 0 && (chunk.lsn() != 42 || chunk.epoch() != 7)) {
      return InvalidArgument("the first chunk does not carry the position");
    }
    if (fail_at_ >= 0 && chunks_ == fail_at_) return Status(Code::kUnavailable, "disk full");
    ++chunks_;
    int file = std::stoi(chunk.file().substr(5));
    if (file != file_) return InvalidArgument("files out of order");
    for (size_t i = 0; i < chunk.data().size(); ++i) {
      if (chunk.data()[i] != PatternByte(file, offset_ + i)) {
        return InvalidArgument("byte out of order in " + chunk.file());
      }
    }
    offset_ += chunk.data().size();
    total_ += chunk.data().size();
    if (chunk.end_of_file()) {
      ++file_;
      offset_ = 0;
    }
    return Status::Ok();
  }
  int chunks_ = 0;
  int fail_at_ = -1;  // the chunk index at which Add fails, or -1
  int file_ = 0;
  size_t offset_ = 0, total_ = 0;
};

// A replication::Service that answers from its fields: at once, later from a thread of its own,
// or never (held until Release). Counts every call it receives.
class FakeService final : public replication::Service {
 public:
  enum class Mode { kAtOnce, kLater, kNever };

  ~FakeService() override {
    for (std::thread& t : threads_) t.join();
  }

  void Append(const proto::AppendRequest& request,
              std::function<void(proto::AppendResponse)> reply) override {
    ++calls;
    proto::AppendResponse response;
    response.set_result(proto::AppendResponse::OK);
    response.set_epoch(request.epoch());
    response.set_durable_lsn(request.prev_lsn() + static_cast<uint64_t>(request.entries_size()));
    Answer([reply = std::move(reply), response]() { reply(response); });
  }

  void Status(const proto::ReplicaStatusRequest& request,
              Reply<proto::ReplicaStatus> reply) override {
    ++calls;
    if (request.partition() == "missing") {
      Answer([reply = std::move(reply)]() { reply(NotFound("no partition 'missing'")); });
      return;
    }
    proto::ReplicaStatus status;
    status.set_partition(request.partition());
    status.set_node(node);
    status.set_log_end(17);
    Answer([reply = std::move(reply), status]() { reply(status); });
  }

  void FetchCheckpoint(const proto::CheckpointRequest& request,
                       Reply<std::unique_ptr<replication::CheckpointReader>> reply) override {
    ++calls;
    if (request.epoch() < 3) {
      Answer([reply = std::move(reply)]() {
        reply(meridian::Status(Code::kFailedPrecondition, "stale epoch"));
      });
      return;
    }
    auto sizes = checkpoint_sizes;
    size_t chunk = chunk_bytes;
    Answer([reply = std::move(reply), sizes, chunk]() {
      reply(std::unique_ptr<replication::CheckpointReader>(new PatternReader(sizes, chunk)));
    });
  }

  void Forward(const proto::ForwardRequest& request, Reply<proto::ForwardResponse> reply) override {
    ++calls;
    proto::ForwardResponse response;
    response.set_status(201);
    *response.mutable_headers() = request.headers();
    response.set_body(request.method() + " " + request.target() + " " + request.body());
    Answer([reply = std::move(reply), response]() { reply(response); });
  }

  // Runs the answers held back in kNever mode, now.
  void Release() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& answer : held) answer();
  }

  std::atomic<int> calls{0};
  Mode mode = Mode::kAtOnce;
  std::string node = "node-b";
  std::vector<size_t> checkpoint_sizes = {(2u << 20) + 12345, 1u << 20};
  size_t chunk_bytes = 256 << 10;

 private:
  void Answer(std::function<void()> answer) {
    std::lock_guard lock(mu_);
    switch (mode) {
      case Mode::kAtOnce:
        answer();
        break;
      case Mode::kLater:
        threads_.emplace_back([answer = std::move(answer)]() {
          std::this_thread::sleep_for(20ms);
          answer();
        });
        break;
      case Mode::kNever:
        held_.push_back(std::move(answer));
        break;
    }
  }

  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::function<void()>> held_;
};

// Waits for one callback; counts how often it ran.
template <typename T>
class Awaited {
 public:
  Awaited() : state_(std::make_shared<State>()) { future_ = state_->promise.get_future(); }
  Reply<T> Callback() {
    return [state = state_](Result<T> result) {
      if (state->count.fetch_add(1) == 0) state->promise.set_value(std::move(result));
    };
  }
  Result<T> Get(std::chrono::seconds limit = 20s) {
    if (future_.wait_for(limit) != std::future_status::ready) {
      return Internal("no answer in time");
    }
    return future_.get();
  }
  int count() const { return state_->count.load(); }

 private:
  struct State {
    std::promise<Result<T>> promise;
    std::atomic<int> count{0};
  };
  std::shared_ptr<State> state_;
  std::future<Result<T>> future_;
};

// Unit-result callbacks (FetchCheckpoint's done) through the same waiter.
struct Done {
  Awaited<bool> awaited;
  std::function<void(meridian::Status)> Callback() {
    return [reply = awaited.Callback()](meridian::Status st) {
      if (st.ok()) {
        reply(true);
      } else {
        reply(st);
      }
    };
  }
  meridian::Status Get() { return awaited.Get().status(); }
};

class GrpcTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeClusterCertificates(certs_.path(), {"node-a", "node-b"}, {}).ok());
    ASSERT_TRUE(MakeClusterCertificates(other_certs_.path(), {"node-a", "node-b"}, {}).ok());
    node_a_ = *LoadNodeCredentials(certs_.path(), "node-a");
    node_b_ = *LoadNodeCredentials(certs_.path(), "node-b");
    other_a_ = *LoadNodeCredentials(other_certs_.path(), "node-a");
    other_b_ = *LoadNodeCredentials(other_certs_.path(), "node-b");
  }

  std::unique_ptr<GrpcServer> Serve(const NodeCredentials& credentials,
                                    std::chrono::milliseconds grace = 2000ms) {
    GrpcServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.credentials = credentials;
    options.shutdown_grace = grace;
    auto server = GrpcServer::Start(options, &service_);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) return nullptr;
    EXPECT_GT((*server)->port(), 0);
    return std::move(server).value();
  }

  std::unique_ptr<GrpcTransport> Client(const NodeCredentials& credentials,
                                        std::chrono::milliseconds timeout = 10000ms) {
    GrpcTransportOptions options;
    options.credentials = credentials;
    options.call_timeout = timeout;
    return std::make_unique<GrpcTransport>(options);
  }

  // server_ as node-b, and client_ as node-a with server_'s address for node-b.
  bool Connect(std::chrono::milliseconds grace = 2000ms,
               std::chrono::milliseconds timeout = 10000ms) {
    server_ = Serve(node_b_, grace);
    if (server_ == nullptr) return false;
    client_ = Client(node_a_, timeout);
    client_->SetPeerAddress("node-b", Address(*server_));
    return true;
  }

  static std::string Address(const GrpcServer& server) {
    return "127.0.0.1:" + std::to_string(server.port());
  }

  Result<proto::ReplicaStatus> StatusOf(GrpcTransport& transport, const std::string& to,
                                        const std::string& partition = "p1") {
    Awaited<proto::ReplicaStatus> answer;
    proto::ReplicaStatusRequest request;
    request.set_partition(partition);
    transport.Status(to, request, answer.Callback());
    return answer.Get();
  }

  testing::TempDir certs_, other_certs_;
  NodeCredentials node_a_, node_b_, other_a_, other_b_;
  FakeService service_;  // outlives every server
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<GrpcTransport> client_;
};

TEST_F(GrpcTransportTest, UnaryCallsRoundTrip) {
  ASSERT_TRUE(Connect());

  proto::AppendRequest append;
  append.set_partition("p1");
  append.set_epoch(5);
  append.set_prev_lsn(10);
  append.add_entries()->set_lsn(11);
  append.add_entries()->set_lsn(12);
  Awaited<proto::AppendResponse> appended;
  client_->Append("node-b", append, appended.Callback());
  auto a = appended.Get();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->result(), proto::AppendResponse::OK);
  EXPECT_EQ(a->epoch(), 5u);
  EXPECT_EQ(a->durable_lsn(), 12u);

  auto st = StatusOf(*client_, "node-b");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->partition(), "p1");
  EXPECT_EQ(st->node(), "node-b");
  EXPECT_EQ(st->log_end(), 17u);

  proto::ForwardRequest forward;
  forward.set_method("PATCH");
  forward.set_target("/v1.0/users/x");
  forward.set_body(std::string("{\"a\":\0}", 7));
  auto* header = forward.add_headers();
  header->set_name("If-Match");
  header->set_value("W/\"3\"");
  Awaited<proto::ForwardResponse> forwarded;
  client_->Forward("node-b", forward, forwarded.Callback());
  auto f = forwarded.Get();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->status(), 201u);
  EXPECT_EQ(f->body(), "PATCH /v1.0/users/x " + forward.body());
  ASSERT_EQ(f->headers_size(), 1);
  EXPECT_EQ(f->headers(0).value(), "W/\"3\"");

  EXPECT_EQ(appended.count(), 1);
  EXPECT_EQ(forwarded.count(), 1);
  EXPECT_EQ(service_.calls.load(), 3);
}

TEST_F(GrpcTransportTest, ServiceErrorsReachTheCaller) {
  ASSERT_TRUE(Connect());
  EXPECT_EQ(StatusOf(*client_, "node-b", "missing").status().code(), Code::kNotFound);

  CheckingWriter sink;
  Done done;
  proto::CheckpointRequest request;
  request.set_epoch(1);  // stale
  client_->FetchCheckpoint("node-b", request, &sink, done.Callback());
  EXPECT_EQ(done.Get().code(), Code::kFailedPrecondition);
  EXPECT_EQ(sink.chunks_, 0);
}

TEST_F(GrpcTransportTest, CheckpointStreamsEveryChunkInOrder) {
  ASSERT_TRUE(Connect());

  CheckingWriter sink;
  Done done;
  proto::CheckpointRequest request;
  request.set_partition("p1");
  request.set_epoch(7);
  client_->FetchCheckpoint("node-b", request, &sink, done.Callback());
  meridian::Status st = done.Get();
  ASSERT_TRUE(st.ok()) << st.ToString();
  size_t expected = service_.checkpoint_sizes[0] + service_.checkpoint_sizes[1];
  EXPECT_EQ(sink.total_, expected);
  EXPECT_EQ(sink.file_, 2);
  EXPECT_EQ(sink.chunks_, 9 + 4);  // 2 MiB + 12345 bytes, then 1 MiB, in 256 KiB chunks
  EXPECT_EQ(done.awaited.count(), 1);
}

TEST_F(GrpcTransportTest, ASinkErrorStopsTheStreamAndIsTheResult) {
  ASSERT_TRUE(Connect());
  CheckingWriter sink;
  sink.fail_at_ = 3;
  Done done;
  proto::CheckpointRequest request;
  request.set_epoch(7);
  client_->FetchCheckpoint("node-b", request, &sink, done.Callback());
  meridian::Status st = done.Get();
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_EQ(st.message(), "disk full");
  EXPECT_EQ(sink.chunks_, 3);
}

TEST_F(GrpcTransportTest, AServiceMayAnswerLaterFromAnotherThread) {
  service_.mode = FakeService::Mode::kLater;
  ASSERT_TRUE(Connect());

  std::vector<Awaited<proto::ReplicaStatus>> answers(8);
  for (auto& answer : answers) {
    proto::ReplicaStatusRequest request;
    request.set_partition("p1");
    client_->Status("node-b", request, answer.Callback());
  }
  for (auto& answer : answers) {
    auto st = answer.Get();
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->node(), "node-b");
  }
  CheckingWriter sink;
  Done done;
  proto::CheckpointRequest request;
  request.set_epoch(7);
  client_->FetchCheckpoint("node-b", request, &sink, done.Callback());
  EXPECT_TRUE(done.Get().ok());
  EXPECT_EQ(sink.file_, 2);
}

TEST_F(GrpcTransportTest, APassedDeadlineIsUnavailableAndALateAnswerIsDropped) {
  service_.mode = FakeService::Mode::kNever;
  ASSERT_TRUE(Connect(2000ms, 300ms));
  Awaited<proto::ReplicaStatus> answer;
  proto::ReplicaStatusRequest request;
  client_->Status("node-b", request, answer.Callback());
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(answer.Get().status().code(), Code::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(service_.calls.load(), 1);
  // The service answers after the client gave up, and again after the server is gone.
  std::this_thread::sleep_for(100ms);
  service_.Release();
  client_->Status("node-b", request, Awaited<proto::ReplicaStatus>().Callback());
  server_.reset();
  service_.Release();
  EXPECT_EQ(answer.count(), 1);
}

TEST_F(GrpcTransportTest, ShutdownIsBoundedWhenTheServiceNeverAnswers) {
  service_.mode = FakeService::Mode::kNever;
  ASSERT_TRUE(Connect(200ms, 60000ms));
  Awaited<proto::ReplicaStatus> answer;
  client_->Status("node-b", proto::ReplicaStatusRequest(), answer.Callback());
  CheckingWriter sink;
  Done done;
  proto::CheckpointRequest fetch;
  fetch.set_epoch(7);
  client_->FetchCheckpoint("node-b", fetch, &sink, done.Callback());
  while (service_.calls.load() < 2) std::this_thread::sleep_for(5ms);

  auto start = std::chrono::steady_clock::now();
  server_->Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(answer.Get().status().code(), Code::kUnavailable);
  EXPECT_EQ(done.Get().code(), Code::kUnavailable);
  service_.Release();   // late: dropped
  server_->Shutdown();  // idempotent
}

TEST_F(GrpcTransportTest, DestroyingTheTransportCompletesCallsInFlight) {
  service_.mode = FakeService::Mode::kNever;
  ASSERT_TRUE(Connect(200ms, 60000ms));
  Awaited<proto::ReplicaStatus> answer;
  client_->Status("node-b", proto::ReplicaStatusRequest(), answer.Callback());
  while (service_.calls.load() < 1) std::this_thread::sleep_for(5ms);
  client_.reset();
  EXPECT_EQ(answer.count(), 1) << "completed before the destructor returned";
  EXPECT_EQ(answer.Get().status().code(), Code::kUnavailable);
}

TEST_F(GrpcTransportTest, AnUnknownPeerIsUnavailable) {
  auto client = Client(node_a_);
  EXPECT_EQ(StatusOf(*client, "node-b").status().code(), Code::kUnavailable);
  client->SetPeerAddress("node-b", "127.0.0.1:1");
  client->RemovePeer("node-b");
  EXPECT_EQ(StatusOf(*client, "node-b").status().code(), Code::kUnavailable);
}

TEST_F(GrpcTransportTest, ANewAddressTakesEffectForLaterCalls) {
  FakeService second;
  second.node = "node-b-moved";
  auto first_server = Serve(node_b_);
  ASSERT_NE(first_server, nullptr);
  GrpcServerOptions options;
  options.credentials = node_b_;
  auto second_server = GrpcServer::Start(options, &second);
  ASSERT_TRUE(second_server.ok());
  auto client = Client(node_a_);
  client->SetPeerAddress("node-b", Address(*first_server));
  EXPECT_EQ(StatusOf(*client, "node-b")->node(), "node-b");
  client->SetPeerAddress("node-b", Address(**second_server));
  EXPECT_EQ(StatusOf(*client, "node-b")->node(), "node-b-moved");
}

// --- who may talk to whom -----------------------------------------------------------------------

TEST_F(GrpcTransportTest, AClientOfAnotherCaIsRefused) {
  auto server = Serve(node_b_);
  ASSERT_NE(server, nullptr);
  NodeCredentials stranger = other_a_;
  stranger.ca_pem = node_a_.ca_pem;  // it trusts our server, but its own certificate is foreign
  auto client = Client(stranger);
  client->SetPeerAddress("node-b", Address(*server));
  EXPECT_EQ(StatusOf(*client, "node-b").status().code(), Code::kUnavailable);
  EXPECT_EQ(service_.calls.load(), 0);

  auto member = Client(node_a_);  // the control: the same call with a cluster certificate
  member->SetPeerAddress("node-b", Address(*server));
  EXPECT_TRUE(StatusOf(*member, "node-b").ok());
  EXPECT_EQ(service_.calls.load(), 1);
}

// A raw gRPC Status call with the given TLS credentials.
grpc::Status RawStatusCall(const std::string& address, const grpc::SslCredentialsOptions& ssl) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("node-b");
  auto stub = proto::Replication::NewStub(
      grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  proto::ReplicaStatusRequest request;
  proto::ReplicaStatus response;
  return stub->Status(&context, request, &response);
}

TEST_F(GrpcTransportTest, AClientWithoutACertificateIsRefused) {
  auto server = Serve(node_b_);
  ASSERT_NE(server, nullptr);
  grpc::SslCredentialsOptions anonymous;
  anonymous.pem_root_certs = node_a_.ca_pem;
  grpc::Status refused = RawStatusCall(Address(*server), anonymous);
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(FromGrpcStatus(refused).code(), Code::kUnavailable);
  EXPECT_EQ(service_.calls.load(), 0);

  grpc::SslCredentialsOptions member = anonymous;
  member.pem_cert_chain = node_a_.cert_pem;
  member.pem_private_key = node_a_.key_pem;
  EXPECT_TRUE(RawStatusCall(Address(*server), member).ok());
  EXPECT_EQ(service_.calls.load(), 1);
}

TEST_F(GrpcTransportTest, AServerOfAnotherCaIsRefused) {
  NodeCredentials impostor = other_b_;
  impostor.ca_pem = node_b_.ca_pem;  // it would accept our client; its own certificate is foreign
  auto server = Serve(impostor);
  ASSERT_NE(server, nullptr);
  auto client = Client(node_a_);
  client->SetPeerAddress("node-b", Address(*server));
  EXPECT_EQ(StatusOf(*client, "node-b").status().code(), Code::kUnavailable);
  EXPECT_EQ(service_.calls.load(), 0);
}

TEST_F(GrpcTransportTest, AServerMustCarryThePeersNodeId) {
  auto server = Serve(node_b_);  // a genuine cluster certificate, but for node-b
  ASSERT_NE(server, nullptr);
  auto client = Client(node_a_);
  client->SetPeerAddress("node-a", Address(*server));
  EXPECT_EQ(StatusOf(*client, "node-a").status().code(), Code::kUnavailable);
  EXPECT_EQ(service_.calls.load(), 0);

  client->SetPeerAddress("node-b", Address(*server));
  EXPECT_TRUE(StatusOf(*client, "node-b").ok());
  EXPECT_EQ(service_.calls.load(), 1);
}

TEST(GrpcStatus, MapsBothWays) {
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
  for (auto code : {grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DEADLINE_EXCEEDED,
                    grpc::StatusCode::CANCELLED, grpc::StatusCode::ABORTED}) {
    EXPECT_EQ(FromGrpcStatus(grpc::Status(code, "x")).code(), Code::kUnavailable);
  }
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "x")).code(),
            Code::kInternal);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::DATA_LOSS, "x")).code(), Code::kInternal);
  for (Code code : {Code::kInvalidArgument, Code::kUnauthenticated, Code::kPermissionDenied,
                    Code::kNotFound, Code::kAlreadyExists, Code::kFailedPrecondition,
                    Code::kResourceExhausted, Code::kUnavailable, Code::kInternal}) {
    EXPECT_EQ(FromGrpcStatus(ToGrpcStatus(meridian::Status(code, "m"))).code(), code);
  }
  EXPECT_TRUE(ToGrpcStatus(meridian::Status::Ok()).ok());
  EXPECT_EQ(ToGrpcStatus(meridian::Status(Code::kTooLarge, "m")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace meridian::rpc
