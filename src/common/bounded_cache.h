// BoundedCache: a small thread-safe map for hot read paths (verified tokens, tenant routing).
// Its size is bounded, so memory does not grow with the number of tenants or tokens: a shard
// that reaches its share of the capacity is emptied and refills with what is used next.
// Only values that cannot go stale (or whose staleness the caller checks) belong in it.
#pragma once

#include <array>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace meridian {

template <typename V>
class BoundedCache {
 public:
  explicit BoundedCache(size_t capacity) : per_shard_(capacity / kShards + 1) {}

  std::optional<V> Get(std::string_view key) const {
    const Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    auto it = s.map.find(std::string(key));
    if (it == s.map.end()) return std::nullopt;
    return it->second;
  }

  void Put(std::string_view key, V value) {
    Shard& s = ShardOf(key);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.map.size() >= per_shard_) s.map.clear();
    s.map.insert_or_assign(std::string(key), std::move(value));
  }

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, V> map;
  };
  Shard& ShardOf(std::string_view key) {
    return shards_[std::hash<std::string_view>()(key) % kShards];
  }
  const Shard& ShardOf(std::string_view key) const {
    return shards_[std::hash<std::string_view>()(key) % kShards];
  }

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace meridian
