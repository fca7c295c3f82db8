#include "router/upstream_pool.h"

namespace pdgate::router {

std::optional<beast::tcp_stream> UpstreamPool::Take(std::string_view key, Clock::time_point now) {
  auto it = idle_.find(key);
  if (it == idle_.end()) return std::nullopt;
  std::vector<Idle>& idle = it->second;
  while (!idle.empty()) {
    Idle entry = std::move(idle.back());
    idle.pop_back();
    if (now - entry.since <= max_idle_ && entry.socket.is_open()) {
      return beast::tcp_stream(std::move(entry.socket));
    }
    beast::error_code ignored;
    entry.socket.close(ignored);
  }
  return std::nullopt;
}

void UpstreamPool::Give(std::string_view key, beast::tcp_stream stream, Clock::time_point now) {
  if (max_per_endpoint_ == 0) return;
  auto it = idle_.find(key);
  if (it == idle_.end()) it = idle_.emplace(std::string(key), std::vector<Idle>()).first;
  std::vector<Idle>& idle = it->second;
  if (idle.size() >= max_per_endpoint_) idle.erase(idle.begin());  // the oldest goes
  idle.push_back(Idle{stream.release_socket(), now});
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& [key, idle] : idle_) n += idle.size();
  return n;
}

}  // namespace pdgate::router
