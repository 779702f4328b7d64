// http_echo_bench_server: the bare HTTPS server answering GET /ping with {"ok":true}, through
// the Router (and, with --metrics, request metrics), to measure the server alone with wrk:
//
//   taskset -c 0 build/src/http/http_echo_bench_server --threads 1 &   # prints "port N"
//   taskset -c 1 wrk -t1 -c32 -d10s https://127.0.0.1:N/ping
//
// Runs until SIGINT or SIGTERM. The certificate is generated at start.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "crypto/tls_cert.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/server.h"

namespace {

int Usage() {
  std::fprintf(stderr, "usage: http_echo_bench_server [--port N] [--threads N] [--metrics]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace meridian;
  http::ServerOptions options;
  options.threads = 1;
  bool with_metrics = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--port" && i + 1 < argc) {
      options.port = static_cast<uint16_t>(std::atoi(argv[++i]));
    } else if (arg == "--threads" && i + 1 < argc) {
      options.threads = std::atoi(argv[++i]);
    } else if (arg == "--metrics") {
      with_metrics = true;
    } else {
      return Usage();
    }
  }

  // Block the stop signals in every thread; main waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto cert = crypto::GenerateSelfSignedCertificate({"localhost"}, {"127.0.0.1"}, 30);
  if (!cert.ok()) {
    std::fprintf(stderr, "%s\n", cert.status().ToString().c_str());
    return 1;
  }
  options.cert_pem = cert->cert_pem;
  options.key_pem = cert->key_pem;
  http::Metrics metrics;
  if (with_metrics) options.metrics = &metrics;

  http::Router router;
  router.Add("GET", "/ping",
             [](const http::Request&, const http::RouteParams&, http::Response& res) {
               res.SetJson(200, R"({"ok":true})");
             });
  router.Add("GET", "/metrics",
             [&metrics](const http::Request&, const http::RouteParams&, http::Response& res) {
               res.body = metrics.RenderPrometheus();
               res.SetHeader("Content-Type", "text/plain; version=0.0.4");
             });
  // Answered inline on the I/O thread: this measures the server alone.
  auto server = http::Server::Start(
      options, [&router](const http::Request& req, http::Response& res, http::Done done) {
        res.route_label = router.Dispatch(req, res);
        done();
      });
  if (!server.ok()) {
    std::fprintf(stderr, "%s\n", server.status().ToString().c_str());
    return 1;
  }
  std::printf("port %u\n", static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  int sig = 0;
  sigwait(&signals, &sig);
  (*server)->Stop();
  return 0;
}
