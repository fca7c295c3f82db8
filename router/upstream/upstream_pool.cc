#include "router/upstream/upstream_pool.h"

#include <algorithm>

namespace pdgate::router {

ConnectionPtr UpstreamPool::Take(std::string_view key, Clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return nullptr;
  std::vector<Idle>& idle = it->second;
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    Add(gauges_.idle, -1);
    if (now - entry.since <= max_idle_ && entry.connection->stream.socket().is_open()) {
      Add(gauges_.active, 1);
      return std::move(entry.connection);
    }
  }
  return nullptr;
}

void UpstreamPool::Give(std::string_view key, ConnectionPtr connection, Clock::time_point now) {
  Add(gauges_.active, -1);
  if (max_per_endpoint_ == 0) return;  // closed by the stream's destructor
  auto it = idle_.find(key);
  if (it == idle_.end()) it = idle_.emplace(std::string(key), std::vector<Idle>()).first;
  std::vector<Idle>& idle = it->second;
  if (idle.size() >= max_per_endpoint_) {  // the oldest goes
    idle.erase(idle.begin());  // closed by the stream's destructor
    Add(gauges_.idle, -1);
  }
  idle.push_back(Idle{std::move(connection), now});
  Add(gauges_.idle, 1);
}

void UpstreamPool::Drop(std::string_view key) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return;
  Add(gauges_.idle, -double(it->second.size()));
  idle_.erase(it);  // the sockets close as they are destroyed
}

size_t UpstreamPool::Prune(Clock::time_point now) {
  size_t closed = 0;
  for (auto it = idle_.begin(); it != idle_.end();) {
    std::vector<Idle>& idle = it->second;
    auto stale = std::remove_if(idle.begin(), idle.end(), [&](Idle& entry) {
      return now - entry.since > max_idle_ || !entry.connection->stream.socket().is_open();
    });
    closed += size_t(idle.end() - stale);
    idle.erase(stale, idle.end());
    if (idle.empty()) {
      idle_.erase(it++);  // endpoints that left the configuration leave the map too
    } else {
      ++it;
    }
  }
  if (closed > 0) Add(gauges_.idle, -double(closed));
  return closed;
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, idle] : idle_) n += idle.size();
  return n;
}

size_t UpstreamPool::idle_buffer_bytes() const {
  size_t n = 0;
  for (const auto& [key, idle] : idle_) {
    for (const Idle& entry : idle) n += entry.connection->buffer.capacity();
  }
  return n;
}

void UpstreamPool::Clear() {
  Add(gauges_.idle, -double(idle_count()));
  idle_.clear();
}

}  // namespace pdgate::router
