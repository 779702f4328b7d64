// Metrics: request counters, latency histograms and scrape-time gauges, rendered in the
// Prometheus text exposition format 0.0.4 for GET /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meridian::http {

// The metrics of one process. Thread-safe: ObserveRequest() may run on every server thread at
// once (it touches a per-thread shard under an uncontended lock, so it costs about one hash
// lookup); AddGauge() and RenderPrometheus() may run concurrently with it and with each other.
// The Metrics object must outlive every Server that records into it.
class Metrics {
 public:
  // Returns the label set (`partition="emea-1"`, already escaped, or "" for none) and value of
  // each series of a gauge. Called at scrape time on the scraping thread, without locks held.
  using GaugeFn = std::function<std::vector<std::pair<std::string, double>>()>;

  // Upper bounds of the latency histogram buckets, in seconds; +Inf follows.
  static constexpr double kBuckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,   0.25,   0.5,   1,    2.5};
  static constexpr size_t kNumBuckets = std::size(kBuckets) + 1;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one request in meridian_http_requests_total{route,method,status} and its latency in
  // meridian_http_request_duration_seconds{route,method}. `route` should be a route pattern and
  // `method` one of a small set, as every distinct value makes new series.
  void ObserveRequest(std::string_view route, std::string_view method, int status, double seconds);

  // What happened to a connection, for meridian_http_connections_open (a gauge: opened minus
  // closed) and meridian_http_connections_refused_total{reason="total"|"per_address"}.
  enum class ConnectionEvent { kOpened, kClosed, kRefusedTotal, kRefusedPerAddress };
  void ObserveConnection(ConnectionEvent event);

  // Registers a gauge family `name` (a valid Prometheus metric name, registered once) whose
  // series are read from `fn` at every scrape.
  void AddGauge(std::string name, std::string help, GaugeFn fn);

  // All metrics in the Prometheus text format 0.0.4, series sorted by labels.
  std::string RenderPrometheus() const;

 private:
  struct Shard;
  struct Gauge;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<int64_t> connections_open_{0};
  std::atomic<uint64_t> refused_total_{0};
  std::atomic<uint64_t> refused_per_address_{0};
  mutable std::mutex gauges_mu_;
  std::vector<std::shared_ptr<const Gauge>> gauges_;
};

}  // namespace meridian::http
