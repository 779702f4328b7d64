#include "rpc/grpc_transport.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "meridian/replication.grpc.pb.h"
#include "rpc/grpc_status.h"

namespace meridian::rpc {
namespace {

using Stub = proto::Replication::Stub;

std::chrono::system_clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

// --- client -------------------------------------------------------------------------------------

// One call in flight: its context, which the transport cancels when it is destroyed.
struct ClientCall {
  virtual ~ClientCall() = default;
  grpc::ClientContext context;
};

// Where a call reports that it has ended (its callback has run).
class CallRegistry {
 public:
  virtual ~CallRegistry() = default;
  virtual void End(ClientCall* call) = 0;
};

// A unary call: the request is kept until the call ends, as the callback API requires.
template <typename Request, typename Response>
struct UnaryClientCall : ClientCall {
  std::shared_ptr<Stub> stub;
  Request request;
  Response response;
  replication::Reply<Response> reply;
};

}  // namespace

class GrpcTransport::Impl final : public CallRegistry {
 public:
  explicit Impl(GrpcTransportOptions options) : options_(std::move(options)) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options_.credentials.ca_pem;
    ssl.pem_cert_chain = options_.credentials.cert_pem;
    ssl.pem_private_key = options_.credentials.key_pem;
    credentials_ = grpc::SslCredentials(ssl);
  }

  // Cancels what is in flight and waits for every callback to have run.
  ~Impl() override {
    std::vector<std::shared_ptr<ClientCall>> calls;
    {
      std::lock_guard lock(mu_);
      closing_ = true;
      for (auto& [ptr, call] : in_flight_) calls.push_back(call);
    }
    // Outside the lock: a cancelled call may complete (and End) at once.
    for (auto& call : calls) call->context.TryCancel();
    calls.clear();
    std::unique_lock lock(mu_);
    idle_.wait(lock, [this] { return in_flight_.empty(); });
  }

  void SetPeerAddress(const std::string& node, const std::string& address) {
    std::lock_guard lock(mu_);
    Peer& peer = peers_[node];
    if (peer.address != address) {
      peer.address = address;
      peer.stub.reset();  // made anew on the next call; calls in flight keep the old one
    }
  }

  void RemovePeer(const std::string& node) {
    std::lock_guard lock(mu_);
    peers_.erase(node);
  }

  // The stub for `to`, its channel made on first use, and `call` registered as in flight; or why
  // not.
  Result<std::shared_ptr<Stub>> Begin(const std::string& to, std::shared_ptr<ClientCall> call) {
    std::lock_guard lock(mu_);
    if (closing_) return meridian::Status(Code::kUnavailable, "the transport is shutting down");
    auto it = peers_.find(to);
    if (it == peers_.end())
      return meridian::Status(Code::kUnavailable, "no address for node " + to);
    Peer& peer = it->second;
    if (!peer.stub) {
      grpc::ChannelArguments args;
      // The peer must prove it is `to`, whatever address it is reached at.
      args.SetSslTargetNameOverride(to);
      args.SetMaxReceiveMessageSize(options_.max_message_bytes);
      // gRPC's default reconnect backoff grows to 120 s: a peer back from a restart stayed
      // unreachable from here for seconds (minutes after a long outage) while it served. Redial
      // at least every second, the scale of the liveness lease.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      peer.stub =
          proto::Replication::NewStub(grpc::CreateCustomChannel(peer.address, credentials_, args));
    }
    ClientCall* key = call.get();
    in_flight_.emplace(key, std::move(call));
    return peer.stub;
  }

  // The last thing a call does, after its callback ran.
  void End(ClientCall* call) override {
    std::shared_ptr<ClientCall> keep;  // destroyed outside the lock
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(call);
    if (it != in_flight_.end()) {
      keep = std::move(it->second);
      in_flight_.erase(it);
    }
    if (in_flight_.empty()) idle_.notify_all();
  }

  // Starts a unary call: `start(async, context, request, response, on_done)` is the stub method.
  template <typename Request, typename Response, typename Start>
  void Unary(const std::string& to, const Request& request, replication::Reply<Response> reply,
             std::chrono::milliseconds timeout, Start start) {
    auto call = std::make_shared<UnaryClientCall<Request, Response>>();
    call->request = request;
    call->reply = std::move(reply);
    call->context.set_deadline(DeadlineAfter(timeout));
    Result<std::shared_ptr<Stub>> stub = Begin(to, call);
    if (!stub.ok()) {
      call->reply(stub.status());
      return;
    }
    call->stub = std::move(*stub);
    auto* raw = call.get();
    start(call->stub->async(), &raw->context, &raw->request, &raw->response,
          [this, raw](grpc::Status status) {
            if (status.ok()) {
              raw->reply(std::move(raw->response));
            } else {
              raw->reply(FromGrpcStatus(status));
            }
            End(raw);
          });
  }

  const GrpcTransportOptions& options() const { return options_; }

 private:
  struct Peer {
    std::string address;
    std::shared_ptr<Stub> stub;  // null until the first call
  };

  const GrpcTransportOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;

  std::mutex mu_;
  std::condition_variable idle_;
  bool closing_ = false;
  std::map<std::string, Peer> peers_;
  std::unordered_map<ClientCall*, std::shared_ptr<ClientCall>> in_flight_;
};

namespace {

// FetchCheckpoint's stream, read chunk by chunk into the sink.
class CheckpointFetch final : public ClientCall,
                              public grpc::ClientReadReactor<proto::CheckpointChunk> {
 public:
  CheckpointFetch(proto::CheckpointRequest request, replication::CheckpointWriter* sink)
      : request_(std::move(request)), sink_(sink) {}

  void Run(CallRegistry* registry, std::shared_ptr<Stub> stub, std::function<void(Status)> done) {
    registry_ = registry;
    stub_ = std::move(stub);
    done_ = std::move(done);
    stub_->async()->FetchCheckpoint(&context, &request_, this);
    StartRead(&chunk_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended or broke; OnDone says which
    Status added = sink_->Add(chunk_);
    if (!added.ok()) {
      sink_error_ = std::move(added);
      context.TryCancel();
      return;
    }
    StartRead(&chunk_);
  }

  void OnDone(const grpc::Status& status) override {
    done_(!sink_error_.ok() ? sink_error_ : FromGrpcStatus(status));
    registry_->End(this);  // may destroy this
  }

 private:
  proto::CheckpointRequest request_;
  replication::CheckpointWriter* const sink_;
  std::function<void(Status)> done_;
  CallRegistry* registry_ = nullptr;
  std::shared_ptr<Stub> stub_;
  proto::CheckpointChunk chunk_;
  Status sink_error_;
};

}  // namespace

namespace {

// gRPC 1.51 runs callback-API completions on a process-wide "alternative" completion queue that
// it creates when the first channel or server needs it and shuts down when the last lets go.
// Letting go and taking it again while its threads wind down can unref it twice and abort the
// process (seen when a server is destroyed and a channel then fails a TLS handshake). One channel
// that has made a callback call, kept for the life of the process, holds it open throughout.
void PinCallbackCompletionQueue() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto* channel = new std::shared_ptr<grpc::Channel>(
        grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials()));
    auto stub = proto::Replication::NewStub(*channel);
    struct Call {
      grpc::ClientContext context;
      proto::ReplicaStatusRequest request;
      proto::ReplicaStatus response;
    };
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1));
    stub->async()->Status(&call->context, &call->request, &call->response,
                          [call](grpc::Status) { delete call; });
  });
}

}  // namespace

GrpcTransport::GrpcTransport(GrpcTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  PinCallbackCompletionQueue();
}

GrpcTransport::~GrpcTransport() = default;

void GrpcTransport::SetPeerAddress(const std::string& node, const std::string& address) {
  impl_->SetPeerAddress(node, address);
}

void GrpcTransport::RemovePeer(const std::string& node) { impl_->RemovePeer(node); }

void GrpcTransport::Append(const std::string& to, const proto::AppendRequest& request,
                           replication::Reply<proto::AppendResponse> reply) {
  impl_->Unary(to, request, std::move(reply), impl_->options().call_timeout,
               [](auto* async, auto&&... args) {
    async->Append(std::forward<decltype(args)>(args)...);
  });
}

void GrpcTransport::Status(const std::string& to, const proto::ReplicaStatusRequest& request,
                           replication::Reply<proto::ReplicaStatus> reply) {
  impl_->Unary(to, request, std::move(reply), impl_->options().call_timeout,
               [](auto* async, auto&&... args) {
    async->Status(std::forward<decltype(args)>(args)...);
  });
}

void GrpcTransport::Forward(const std::string& to, const proto::ForwardRequest& request,
                            replication::Reply<proto::ForwardResponse> reply) {
  impl_->Unary(to, request, std::move(reply), impl_->options().forward_timeout,
               [](auto* async, auto&&... args) {
    async->Forward(std::forward<decltype(args)>(args)...);
  });
}

void GrpcTransport::FetchCheckpoint(const std::string& to, const proto::CheckpointRequest& request,
                                    replication::CheckpointWriter* sink,
                                    std::function<void(meridian::Status)> done) {
  auto fetch = std::make_shared<CheckpointFetch>(request, sink);
  fetch->context.set_deadline(DeadlineAfter(impl_->options().checkpoint_timeout));
  CheckpointFetch* raw = fetch.get();
  Result<std::shared_ptr<Stub>> stub = impl_->Begin(to, std::move(fetch));
  if (!stub.ok()) {
    done(stub.status());
    return;
  }
  raw->Run(impl_.get(), std::move(*stub), std::move(done));
}

// --- server -------------------------------------------------------------------------------------

namespace {

// The right to finish one server call, shared by the service's reply callback and the call's
// cancellation: whoever takes it first finishes the call, the other finds nothing. The reply
// callback may outlive the call (and the server); the slot is all it holds.
template <typename Call>
class FinishSlot {
 public:
  explicit FinishSlot(Call* call) : call_(call) {}
  Call* Take() {
    std::lock_guard lock(mu_);
    return std::exchange(call_, nullptr);
  }

 private:
  std::mutex mu_;
  Call* call_;
};

const grpc::Status& Cancelled() {
  static const grpc::Status kCancelled(grpc::StatusCode::CANCELLED, "the call was cancelled");
  return kCancelled;
}

// A unary call waiting for the service's answer. Deletes itself when gRPC is done with it.
template <typename Response>
class UnaryServerCall final : public grpc::ServerUnaryReactor {
 public:
  explicit UnaryServerCall(Response* response)
      : response_(response), slot_(std::make_shared<FinishSlot<UnaryServerCall>>(this)) {}

  // What the service calls, once, from any thread, at any time (after the server is gone too).
  replication::Reply<Response> Replier() {
    return [slot = slot_](Result<Response> result) {
      UnaryServerCall* call = slot->Take();
      if (call == nullptr) return;  // cancelled: nobody waits for this answer any more
      if (!result.ok()) {
        call->Finish(ToGrpcStatus(result.status()));
        return;
      }
      *call->response_ = std::move(result).value();
      call->Finish(grpc::Status::OK);
    };
  }

  void OnCancel() override {
    if (UnaryServerCall* call = slot_->Take()) call->Finish(Cancelled());
  }
  void OnDone() override { delete this; }

 private:
  Response* const response_;  // gRPC's, valid until OnDone
  std::shared_ptr<FinishSlot<UnaryServerCall>> slot_;
};

// FetchCheckpoint: waits for the service's reader, then writes its chunks one at a time.
class CheckpointServerStream final : public grpc::ServerWriteReactor<proto::CheckpointChunk> {
 public:
  CheckpointServerStream() : slot_(std::make_shared<FinishSlot<CheckpointServerStream>>(this)) {}

  replication::Reply<std::unique_ptr<replication::CheckpointReader>> Replier() {
    return [slot = slot_](Result<std::unique_ptr<replication::CheckpointReader>> reader) {
      CheckpointServerStream* stream = slot->Take();
      if (stream == nullptr) return;
      if (!reader.ok()) {
        stream->Finish(ToGrpcStatus(reader.status()));
        return;
      }
      stream->reader_ = std::move(reader).value();
      stream->WriteNext();
    };
  }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(Cancelled());  // the stream broke: cancelled, or the client went away
      return;
    }
    WriteNext();
  }

  // Once the reader arrived, a cancellation fails the write in flight instead.
  void OnCancel() override {
    if (CheckpointServerStream* stream = slot_->Take()) stream->Finish(Cancelled());
  }
  void OnDone() override { delete this; }

 private:
  void WriteNext() {
    chunk_.Clear();
    Result<bool> more = reader_->Next(&chunk_);
    if (!more.ok()) {
      Finish(ToGrpcStatus(more.status()));
    } else if (!*more) {
      Finish(grpc::Status::OK);
    } else {
      StartWrite(&chunk_);
    }
  }

  std::shared_ptr<FinishSlot<CheckpointServerStream>> slot_;
  std::unique_ptr<replication::CheckpointReader> reader_;
  proto::CheckpointChunk chunk_;
};

// The gRPC face of a replication::Service.
class ReplicationHandler final : public proto::Replication::CallbackService {
 public:
  explicit ReplicationHandler(replication::Service* service) : service_(service) {}

  grpc::ServerUnaryReactor* Append(grpc::CallbackServerContext*,
                                   const proto::AppendRequest* request,
                                   proto::AppendResponse* response) override {
    auto* call = new UnaryServerCall<proto::AppendResponse>(response);
    service_->Append(*request, [reply = call->Replier()](proto::AppendResponse answer) {
      reply(std::move(answer));
    });
    return call;
  }

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext*,
                                   const proto::ReplicaStatusRequest* request,
                                   proto::ReplicaStatus* response) override {
    auto* call = new UnaryServerCall<proto::ReplicaStatus>(response);
    service_->Status(*request, call->Replier());
    return call;
  }

  grpc::ServerUnaryReactor* Forward(grpc::CallbackServerContext*,
                                    const proto::ForwardRequest* request,
                                    proto::ForwardResponse* response) override {
    auto* call = new UnaryServerCall<proto::ForwardResponse>(response);
    service_->Forward(*request, call->Replier());
    return call;
  }

  grpc::ServerWriteReactor<proto::CheckpointChunk>* FetchCheckpoint(
      grpc::CallbackServerContext*, const proto::CheckpointRequest* request) override {
    auto* stream = new CheckpointServerStream();
    service_->FetchCheckpoint(*request, stream->Replier());
    return stream;
  }

 private:
  replication::Service* const service_;
};

}  // namespace

class GrpcServer::Impl {
 public:
  Impl(GrpcServerOptions options, replication::Service* service)
      : options_(std::move(options)), handler_(service) {}

  meridian::Status Start() {
    grpc::SslServerCredentialsOptions ssl(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    ssl.pem_root_certs = options_.credentials.ca_pem;
    ssl.pem_key_cert_pairs.push_back({options_.credentials.key_pem, options_.credentials.cert_pem});
    grpc::ServerBuilder builder;
    builder.AddListeningPort(options_.listen_address, grpc::SslServerCredentials(ssl), &port_);
    builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
    builder.RegisterService(&handler_);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) {
      server_.reset();
      return meridian::Status(Code::kUnavailable,
                              "cannot serve gRPC on " + options_.listen_address);
    }
    return meridian::Status::Ok();
  }

  void Shutdown() {
    std::lock_guard lock(shutdown_mu_);
    if (!server_) return;
    // Calls still running at the deadline are cancelled; each call's OnCancel finishes it.
    server_->Shutdown(DeadlineAfter(options_.shutdown_grace));
    server_->Wait();
    server_.reset();
  }

  int port() const { return port_; }

 private:
  const GrpcServerOptions options_;
  ReplicationHandler handler_;
  int port_ = 0;
  std::mutex shutdown_mu_;
  std::unique_ptr<grpc::Server> server_;
};

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(GrpcServerOptions options,
                                                      replication::Service* service) {
  PinCallbackCompletionQueue();
  auto impl = std::make_unique<Impl>(std::move(options), service);
  MERIDIAN_RETURN_IF_ERROR(impl->Start());
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Shutdown(); }

int GrpcServer::port() const { return impl_->port(); }

void GrpcServer::Shutdown() { impl_->Shutdown(); }

}  // namespace meridian::rpc
