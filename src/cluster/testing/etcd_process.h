// EtcdProcess: a real, single-member etcd for tests, on free loopback ports with its data in a
// fresh temporary directory; EtcdTest, a gtest fixture with one and a client of it. Test-only
// (meridian_cluster_testing).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "common/status.h"
#include "common/testing/temp_dir.h"

namespace meridian::cluster::testing {

// One etcd child process. Launch() starts it and waits until it answers; Stop() kills it (as a
// crash would) and Start() brings it back on the same ports and data directory, so a test can
// stage an outage. The destructor kills it and reaps it, so a test never leaks the process (and
// the child is also killed if the test process dies first). Not thread-safe: one owner thread.
class EtcdProcess {
 public:
  // Starts etcd (the `etcd` on PATH). Fails with kUnavailable when it does not answer within
  // about 10 seconds (the message carries the end of its log), kInternal when it cannot be
  // started at all.
  static Result<std::unique_ptr<EtcdProcess>> Launch();
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // Kills etcd with SIGKILL and waits for it to exit. A no-op when it is not running.
  void Stop();
  // Starts etcd again on the same ports and data, and waits until it answers. Fails as Launch().
  Status Start();
  bool running() const { return pid_ > 0; }

  // "127.0.0.1:port" of its client URL (plain HTTP).
  std::string endpoint() const;
  const std::string& data_dir() const { return dir_.path(); }

 private:
  EtcdProcess() = default;
  Status WaitUntilAnswering();
  std::string LogTail() const;

  meridian::testing::TempDir dir_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
};

// A fixture that starts a fresh etcd for each test (etcd_) with a client of it (client_, timeout
// one second); a test that cannot start etcd fails in SetUp.
class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // A client of `endpoints`; fails the test (and returns null) when the options are refused.
  static std::unique_ptr<EtcdClient> NewClient(
      std::vector<std::string> endpoints,
      std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

  std::unique_ptr<EtcdProcess> etcd_;
  std::unique_ptr<EtcdClient> client_;
};

// A loopback TCP port that was free a moment ago (bound to port 0, then released).
Result<uint16_t> FreeLoopbackPort();

}  // namespace meridian::cluster::testing
