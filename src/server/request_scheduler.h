// RequestScheduler: which requests run where, for MeridianServer.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/encoding.h"
#include "common/fair_executor.h"
#include "common/status.h"
#include "graph/errors.h"
#include "http/metrics.h"
#include "http/server.h"

namespace meridian::server {

// RequestScheduler: which requests run where, for MeridianServer.
//
// The HTTPS server calls its handler on its I/O threads. Health, readiness and metrics are
// answered there at once, so that probes never wait behind work; every other request is handed
// to a FairExecutor keyed by tenant, so that a slow request (a PBKDF2 hash, a synced write)
// stalls neither the I/O threads nor other tenants. A request that waits for something other than
// the CPU (a replicated write's commit, a replica catching up) does not hold its worker: it
// finishes from the thread that learns the outcome, or Resumes on a worker. A refused request gets
// 429 (its tenant's queue is full) or 503 (all queues are full, or the server is stopping) with
// Retry-After. Thread-safe once started: Serve() is called from every I/O thread.
class RequestScheduler {
 public:
  // Runs a request and calls `done` once its Response is ready: before returning, or later from
  // any thread (a write finishes when it commits).
  using Dispatch =
      std::function<void(const http::Request&, http::Response&, std::function<void()> done)>;
  // A step of a request that runs on a worker (see Resume).
  using Step = std::function<void(std::function<void()> done)>;

  // Names the verified tenant of a request, or "" (see SchedulingKey).
  using TenantOf = std::function<std::string(const http::Request&)>;

  // Starts the workers that will run `dispatch`, and registers their gauges in `metrics`.
  Status Start(http::Metrics* metrics, Dispatch dispatch, TenantOf tenant_of,
               FairExecutorOptions options = {}) {
    dispatch_ = std::move(dispatch);
    tenant_of_ = std::move(tenant_of);
    MERIDIAN_ASSIGN_OR_RETURN(executor_, FairExecutor::Start(std::move(options)));
    metrics->AddGauge("meridian_executor_jobs", "Requests waiting for or running on a worker.",
                      [ex = executor_.get()] {
                        FairExecutor::Stats st = ex->stats();
                        return std::vector<std::pair<std::string, double>>{
                            {"state=\"queued\"", static_cast<double>(st.queued)},
                            {"state=\"running\"", static_cast<double>(st.running)}};
                      });
    return Status::Ok();
  }

  // Drops the requests still queued (each is answered 503) and waits for the running ones.
  void Stop() {
    if (executor_) executor_->Stop(FairExecutor::StopMode::kDrop);
  }

  // Serves one request, inline or on a worker; always ends in `done`.
  void Serve(const http::Request& req, http::Response& res, http::Done done) {
    if (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics") {
      return dispatch_(req, res, [done] { done(); });
    }
    Submit(
        req, res, [done] { done(); },
        [this, &req, &res](std::function<void()> finish) {
          dispatch_(req, res, std::move(finish));
        });
  }

  // Runs `step` of a request already in flight on a worker again, as Serve ran its first: for a
  // request that continues after waiting off the workers (for a replica, a timer). `step` or a
  // refusal (429, 503) ends in `done`.
  void Resume(const http::Request& req, http::Response& res, std::function<void()> done,
              Step step) {
    Submit(req, res, std::move(done), std::move(step));
  }

  // Whether this thread is one of the workers, running a request.
  static bool OnWorker() { return on_worker_; }

  int workers() const { return executor_->threads(); }

 private:
  void Submit(const http::Request& req, http::Response& res, std::function<void()> done,
              Step step) {
    // Shared by the copies the executor may make of the job and by the step's `finish`;
    // answers 503 if it is destroyed without running (Stop drops it).
    struct Job {
      Job(const http::Request& q, http::Response& r, std::function<void()> d, Step s)
          : req(q), res(r), done(std::move(d)), step(std::move(s)) {}
      const http::Request& req;
      http::Response& res;
      std::function<void()> done;
      Step step;
      std::atomic<bool> answered{false};  // set by whoever answers: the worker or a refusal
      std::atomic<bool> finished{false};  // `done` was called
      void Finish() {
        if (!finished.exchange(true)) done();
      }
      ~Job() {
        if (answered) return;
        graph::SetError(Status(Code::kUnavailable, "The server is stopping."), req, &res);
        done();
      }
    };
    auto job = std::make_shared<Job>(req, res, std::move(done), std::move(step));
    Status s = executor_->Submit(SchedulingKey(req), [job] {
      job->answered = true;
      on_worker_ = true;
      try {
        job->step([job] { job->Finish(); });
      } catch (const std::exception& e) {
        spdlog::error("request {} ({} {}): the handler threw: {}", job->res.request_id,
                      job->req.method, job->req.path, e.what());
        if (!job->finished.exchange(true)) {
          job->res.headers.clear();
          job->res.headers.emplace_back("request-id", job->res.request_id);
          graph::SetError(Internal(e.what()), job->req, &job->res);
          job->done();
        }
      }
      on_worker_ = false;
    });
    if (!s.ok()) {
      job->answered = true;
      graph::SetError(s.code() == Code::kResourceExhausted
                          ? Status(s.code(), "Too many requests for this tenant are waiting.")
                          : Status(Code::kUnavailable, "Too many requests are waiting."),
                      req, &res);
      job->Finish();
    }
  }

  // The key a request is scheduled under: the tenant of its bearer token once the token
  // verifies (the token service caches verified tokens, so this is a lookup after the first
  // request), else the client's address, so that a forged or absent token never spends a
  // tenant's share. Unauthenticated endpoints (token, discovery, keys) go by address too.
  std::string SchedulingKey(const http::Request& req) const {
    if (StartsWith(req.path, "/v1.0/") || req.path == "/v1.0") {
      if (std::string tid = tenant_of_(req); !tid.empty()) return "tenant:" + tid;
    }
    std::string_view addr = req.remote_address;  // "1.2.3.4:5678" or "[::1]:5678"
    addr = addr.substr(0, addr.rfind(':'));
    if (addr.size() >= 2 && addr.front() == '[') addr = addr.substr(1, addr.size() - 2);
    return "address:" + std::string(addr);
  }

  static inline thread_local bool on_worker_ = false;
  Dispatch dispatch_;
  TenantOf tenant_of_;
  std::unique_ptr<FairExecutor> executor_;
};

}  // namespace meridian::server
