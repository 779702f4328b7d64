#include "common/cpu_gate.h"

#include <algorithm>
#include <thread>

namespace meridian {

CpuGate::CpuGate(CpuGateOptions options)
    : options_(options),
      slots_(options.slots > 0
                 ? options.slots
                 : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) - 1)),
      free_(slots_) {}

void CpuGate::GrantLocked() {
  // One pass over the keys in turn order: each key that waits and is not running gets a slot.
  for (size_t n = turns_.size(); n > 0 && free_ > 0; --n) {
    std::string key = std::move(turns_.front());
    turns_.pop_front();
    Key& k = keys_.at(key);
    if (k.running || k.waiting.empty()) {
      if (!k.waiting.empty()) turns_.push_back(std::move(key));
      continue;
    }
    granted_.insert(k.waiting.front());
    k.waiting.pop_front();
    k.running = true;
    --free_;
    if (!k.waiting.empty()) turns_.push_back(std::move(key));
  }
}

Status CpuGate::Run(std::string_view key_name, const std::function<void()>& fn) {
  std::unique_lock<std::mutex> lock(mu_);
  auto it = keys_.find(key_name);
  if (it == keys_.end()) it = keys_.emplace(std::string(key_name), Key{}).first;
  Key& key = it->second;
  if (key.waiting.size() >= options_.max_waiting_per_key) {
    return Status(Code::kResourceExhausted,
                  "Too many CPU-heavy requests of this tenant are waiting; retry shortly.",
                  "TooManyRequests");
  }
  if (waiting_total_ >= options_.max_waiting_total) {
    return Status(Code::kUnavailable, "The server is busy; retry shortly.", "ServiceUnavailable");
  }
  uint64_t ticket = next_ticket_++;
  key.waiting.push_back(ticket);
  if (key.waiting.size() == 1) turns_.push_back(it->first);
  ++waiting_total_;
  GrantLocked();
  cv_.wait(lock, [&] { return granted_.count(ticket) > 0; });
  granted_.erase(ticket);
  --waiting_total_;
  lock.unlock();

  struct Release {
    CpuGate* gate;
    Key* key;
    std::string name;
    ~Release() {
      std::lock_guard<std::mutex> l(gate->mu_);
      key->running = false;
      ++gate->free_;
      if (key->waiting.empty()) gate->keys_.erase(name);
      gate->GrantLocked();
      gate->cv_.notify_all();
    }
  } release{this, &key, it->first};
  fn();
  return Status::Ok();
}

}  // namespace meridian
