#pragma once
// Idle keep-alive connections to engines, per io thread (no locks), per endpoint, bounded.
// A connection idle longer than `max_idle` is closed when met instead of reused: engines close
// idle connections themselves (uvicorn after 5 s) and a write into a closed one fails.
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/strings.h"
#include "router/net.h"

namespace pdgate::router {

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;
  UpstreamPool(size_t max_idle_per_endpoint, std::chrono::milliseconds max_idle)
      : max_per_endpoint_(max_idle_per_endpoint), max_idle_(max_idle) {}

  // The most recently used idle connection to `key` ("host:port"), if one is fresh enough.
  std::optional<beast::tcp_stream> Take(std::string_view key, Clock::time_point now);
  void Give(std::string_view key, beast::tcp_stream stream, Clock::time_point now);

  size_t idle_count() const;
  // Closes every idle connection (at exit, while the io_context still exists).
  void Clear() { idle_.clear(); }

 private:
  struct Idle {
    tcp::socket socket;  // tcp_stream is not move-assignable; its socket is
    Clock::time_point since;
  };
  size_t max_per_endpoint_;
  std::chrono::milliseconds max_idle_;
  absl::flat_hash_map<std::string, std::vector<Idle>, StringViewHash, std::equal_to<>> idle_;
};

}  // namespace pdgate::router
