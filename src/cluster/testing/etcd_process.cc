#include "cluster/testing/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "http/client.h"

namespace meridian::cluster::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(10);

std::string Url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

Result<uint16_t> FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal("socket: " + std::string(strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::string error = strerror(errno);
    close(fd);
    return Internal("cannot find a free port: " + error);
  }
  close(fd);
  return ntohs(addr.sin_port);
}

Result<std::unique_ptr<EtcdProcess>> EtcdProcess::Launch() {
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
  MERIDIAN_ASSIGN_OR_RETURN(etcd->client_port_, FreeLoopbackPort());
  do {
    MERIDIAN_ASSIGN_OR_RETURN(etcd->peer_port_, FreeLoopbackPort());
  } while (etcd->peer_port_ == etcd->client_port_);
  MERIDIAN_RETURN_IF_ERROR(etcd->Start());
  return etcd;
}

EtcdProcess::~EtcdProcess() { Stop(); }

std::string EtcdProcess::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

void EtcdProcess::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

Status EtcdProcess::Start() {
  if (running()) return Status::Ok();
  const std::string client = Url(client_port_);
  const std::string peer = Url(peer_port_);
  // A short election timeout makes the lone member lead at once and lets leases be as short as
  // one second (etcd's minimum TTL is 1.5 election timeouts).
  std::vector<std::string> args = {
      "etcd",
      "--name=test",
      "--data-dir=" + dir_.File("data"),
      "--listen-client-urls=" + client,
      "--advertise-client-urls=" + client,
      "--listen-peer-urls=" + peer,
      "--initial-advertise-peer-urls=" + peer,
      "--initial-cluster=test=" + peer,
      "--heartbeat-interval=50",
      "--election-timeout=500",
      "--logger=zap",
      "--log-level=error",
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_.File("etcd.log");
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) return Internal("fork: " + std::string(strerror(errno)));
  if (pid == 0) {
    // Only async-signal-safe calls from here to exec.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execvp("etcd", argv.data());
    _exit(127);
  }
  pid_ = pid;
  Status answering = WaitUntilAnswering();
  if (!answering.ok()) Stop();
  return answering;
}

Status EtcdProcess::WaitUntilAnswering() {
  const Clock::time_point deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return Internal("etcd exited at start (status " + std::to_string(wstatus) +
                      "): " + LogTail());
    }
    http::ClientOptions options;
    options.tls = false;
    options.timeout = std::chrono::milliseconds(500);
    auto client = http::Client::Connect("127.0.0.1", client_port_, options);
    if (client.ok()) {
      auto health = (*client)->Send("GET", "/health", {}, "");
      if (health.ok() && health->status == 200 &&
          health->body.find("\"true\"") != std::string::npos) {
        return Status::Ok();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status(Code::kUnavailable, "etcd did not answer in time: " + LogTail());
}

std::string EtcdProcess::LogTail() const {
  std::ifstream in(dir_.File("etcd.log"));
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

void EtcdTest::SetUp() {
  auto etcd = EtcdProcess::Launch();
  ASSERT_TRUE(etcd.ok()) << etcd.status().ToString();
  etcd_ = std::move(*etcd);
  client_ = NewClient({etcd_->endpoint()});
  ASSERT_NE(client_, nullptr);
}

std::unique_ptr<EtcdClient> EtcdTest::NewClient(std::vector<std::string> endpoints,
                                                std::chrono::milliseconds timeout) {
  EtcdOptions options;
  options.endpoints = std::move(endpoints);
  options.timeout = timeout;
  auto client = EtcdClient::Create(std::move(options));
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

}  // namespace meridian::cluster::testing
