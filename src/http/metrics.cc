#include "http/metrics.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <unordered_map>

namespace meridian::http {
namespace {

// Enough shards that server threads rarely share one.
constexpr size_t kShards = 32;

struct KeyView {
  std::string_view route;
  std::string_view method;
};

struct SeriesKey {
  std::string route;
  std::string method;
  operator KeyView() const { return {route, method}; }  // NOLINT: for heterogeneous lookup
};

struct KeyHash {
  using is_transparent = void;
  size_t operator()(KeyView k) const {
    size_t h = std::hash<std::string_view>{}(k.route);
    return h ^
           (std::hash<std::string_view>{}(k.method) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
  }
};

struct KeyEq {
  using is_transparent = void;
  bool operator()(KeyView a, KeyView b) const { return a.route == b.route && a.method == b.method; }
};

struct Series {
  uint64_t buckets[Metrics::kNumBuckets] = {};  // per bucket, not cumulative
  double sum = 0;
  uint64_t count = 0;
  std::vector<std::pair<int, uint64_t>> by_status;  // few statuses per route: a flat list

  void Merge(const Series& o) {
    for (size_t i = 0; i < Metrics::kNumBuckets; ++i) buckets[i] += o.buckets[i];
    sum += o.sum;
    count += o.count;
    for (const auto& [status, n] : o.by_status) Count(status, n);
  }
  void Count(int status, uint64_t n) {
    for (auto& [s, c] : by_status) {
      if (s == status) {
        c += n;
        return;
      }
    }
    by_status.emplace_back(status, n);
  }
};

size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  thread_local size_t shard = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return shard;
}

void AppendEscapedLabel(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '"') {
      *out += "\\\"";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

void AppendEscapedHelp(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      out->push_back(c);
    }
  }
}

void AppendDouble(std::string* out, double v) {
  if (std::isnan(v)) {
    *out += "NaN";
  } else if (std::isinf(v)) {
    *out += v > 0 ? "+Inf" : "-Inf";
  } else {
    // Plain decimals ("0.0005", as Prometheus client libraries write bucket bounds) where they
    // stay short; exponent form for the rest.
    double a = std::fabs(v);
    bool fixed = v == 0 || (a >= 1e-6 && a < 1e15);
    char buf[128];
    auto r = fixed ? std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed)
                   : std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

void AppendHeader(std::string* out, std::string_view name, std::string_view help,
                  std::string_view type) {
  *out += "# HELP ";
  *out += name;
  *out += ' ';
  AppendEscapedHelp(out, help);
  *out += "\n# TYPE ";
  *out += name;
  *out += ' ';
  *out += type;
  *out += '\n';
}

// Appends `route="...",method="..."` (no braces).
void AppendRouteMethod(std::string* out, const std::string& route, const std::string& method) {
  *out += "route=\"";
  AppendEscapedLabel(out, route);
  *out += "\",method=\"";
  AppendEscapedLabel(out, method);
  *out += '"';
}

}  // namespace

struct alignas(64) Metrics::Shard {
  std::mutex mu;
  std::unordered_map<SeriesKey, Series, KeyHash, KeyEq> series;
};

struct Metrics::Gauge {
  std::string name;
  std::string help;
  GaugeFn fn;
};

Metrics::Metrics() : shards_(new Shard[kShards]) {}
Metrics::~Metrics() = default;

void Metrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                             double seconds) {
  size_t bucket = 0;
  while (bucket < std::size(kBuckets) && seconds > kBuckets[bucket]) ++bucket;
  Shard& shard = shards_[ThisThreadShard()];
  std::lock_guard<std::mutex> lock(shard.mu);
  auto it = shard.series.find(KeyView{route, method});
  if (it == shard.series.end()) {
    it = shard.series.emplace(SeriesKey{std::string(route), std::string(method)}, Series{}).first;
  }
  Series& s = it->second;
  s.buckets[bucket]++;
  s.sum += seconds;
  s.count++;
  s.Count(status, 1);
}

void Metrics::ObserveConnection(ConnectionEvent event) {
  switch (event) {
    case ConnectionEvent::kOpened:
      connections_open_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ConnectionEvent::kClosed:
      connections_open_.fetch_sub(1, std::memory_order_relaxed);
      break;
    case ConnectionEvent::kRefusedTotal:
      refused_total_.fetch_add(1, std::memory_order_relaxed);
      break;
    case ConnectionEvent::kRefusedPerAddress:
      refused_per_address_.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

void Metrics::AddGauge(std::string name, std::string help, GaugeFn fn) {
  auto g = std::make_shared<Gauge>(Gauge{std::move(name), std::move(help), std::move(fn)});
  std::lock_guard<std::mutex> lock(gauges_mu_);
  gauges_.push_back(std::move(g));
}

std::string Metrics::RenderPrometheus() const {
  std::map<std::pair<std::string, std::string>, Series> merged;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    for (const auto& [key, series] : shards_[i].series) {
      merged[{key.route, key.method}].Merge(series);
    }
  }

  std::string out;
  out.reserve(256 + merged.size() * 2048);
  AppendHeader(&out, "meridian_http_requests_total",
               "HTTP requests served, by route pattern, method and status code.", "counter");
  for (auto& [key, s] : merged) {
    std::sort(s.by_status.begin(), s.by_status.end());
    for (const auto& [status, n] : s.by_status) {
      out += "meridian_http_requests_total{";
      AppendRouteMethod(&out, key.first, key.second);
      out += ",status=\"";
      AppendUint(&out, static_cast<uint64_t>(status));
      out += "\"} ";
      AppendUint(&out, n);
      out += '\n';
    }
  }

  constexpr std::string_view kHist = "meridian_http_request_duration_seconds";
  AppendHeader(&out, kHist,
               "Time from a request being read to its response being ready, in seconds.",
               "histogram");
  for (const auto& [key, s] : merged) {
    uint64_t cumulative = 0;
    for (size_t b = 0; b < kNumBuckets; ++b) {
      cumulative += s.buckets[b];
      out += kHist;
      out += "_bucket{";
      AppendRouteMethod(&out, key.first, key.second);
      out += ",le=\"";
      if (b < std::size(kBuckets)) {
        AppendDouble(&out, kBuckets[b]);
      } else {
        out += "+Inf";
      }
      out += "\"} ";
      AppendUint(&out, cumulative);
      out += '\n';
    }
    out += kHist;
    out += "_sum{";
    AppendRouteMethod(&out, key.first, key.second);
    out += "} ";
    AppendDouble(&out, s.sum);
    out += '\n';
    out += kHist;
    out += "_count{";
    AppendRouteMethod(&out, key.first, key.second);
    out += "} ";
    AppendUint(&out, s.count);
    out += '\n';
  }

  AppendHeader(&out, "meridian_http_connections_open", "HTTPS connections open now.", "gauge");
  out += "meridian_http_connections_open ";
  AppendDouble(&out, static_cast<double>(connections_open_.load(std::memory_order_relaxed)));
  out += '\n';
  AppendHeader(&out, "meridian_http_connections_refused_total",
               "Connections closed at accept because a connection cap was reached.", "counter");
  out += "meridian_http_connections_refused_total{reason=\"total\"} ";
  AppendUint(&out, refused_total_.load(std::memory_order_relaxed));
  out += "\nmeridian_http_connections_refused_total{reason=\"per_address\"} ";
  AppendUint(&out, refused_per_address_.load(std::memory_order_relaxed));
  out += '\n';

  std::vector<std::shared_ptr<const Gauge>> gauges;
  {
    std::lock_guard<std::mutex> lock(gauges_mu_);
    gauges = gauges_;
  }
  for (const auto& g : gauges) {
    AppendHeader(&out, g->name, g->help, "gauge");
    for (const auto& [labels, value] : g->fn()) {
      out += g->name;
      if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
      }
      out += ' ';
      AppendDouble(&out, value);
      out += '\n';
    }
  }
  return out;
}

}  // namespace meridian::http
