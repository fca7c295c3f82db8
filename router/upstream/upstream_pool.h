#pragma once
// Idle keep-alive connections to engines, per io thread (no locks), per endpoint, bounded.
// A connection idle longer than `max_idle` is closed when met instead of reused: engines close
// idle connections themselves (uvicorn after 5 s) and a write into a closed one fails. `Prune`,
// run on a timer, closes the ones nobody meets, so they do not linger half-closed.
//
// The pool also keeps pdgate_upstream_connections exact: every connection a leg holds is
// `active` from Opened (or Take) until Closed (or Give), every pooled one `idle` until taken,
// pruned or cleared. The gauges are shared by all io threads (atomic increments).
#include <absl/container/flat_hash_map.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/strings.h"
#include "router/http/net.h"
#include "router/observe/router_metrics.h"

namespace pdgate::router {

// A connection to an engine with its read buffer. Both go back to the pool together, so a leg on
// a pooled connection allocates neither Beast's stream state nor a read buffer.
struct UpstreamConnection {
  explicit UpstreamConnection(const Executor& executor) : stream(executor) {}
  Stream stream;
  beast::flat_buffer buffer;
};
using ConnectionPtr = std::unique_ptr<UpstreamConnection>;

class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;
  UpstreamPool(size_t max_idle_per_endpoint, std::chrono::milliseconds max_idle,
               ConnectionGauges gauges = {})
      : max_per_endpoint_(max_idle_per_endpoint), max_idle_(max_idle), gauges_(gauges) {}
  ~UpstreamPool() { Clear(); }
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // The most recently used idle connection to `key` ("host:port"), if one is fresh enough; it
  // counts as active from here on.
  ConnectionPtr Take(std::string_view key, Clock::time_point now);
  // An active connection whose response was read to its end goes idle (or is closed when the
  // pool is full or disabled).
  void Give(std::string_view key, ConnectionPtr connection, Clock::time_point now);
  // A leg opened a new connection / closed one it held.
  void Opened() { Add(gauges_.active, 1); }
  void Closed() { Add(gauges_.active, -1); }

  // Closes every idle connection to `key`: one of them met a closed peer, or a connect was
  // refused, and the others were most likely opened to the same engine process.
  void Drop(std::string_view key);
  // Closes the idle connections older than `max_idle`; returns how many.
  size_t Prune(Clock::time_point now);
  size_t idle_count() const;
  size_t idle_buffer_bytes() const;  // the read buffers idle connections hold
  std::chrono::milliseconds max_idle() const { return max_idle_; }
  // Closes every idle connection (at exit, while the io_context still exists).
  void Clear();

 private:
  struct Idle {
    ConnectionPtr connection;
    Clock::time_point since;
  };
  size_t max_per_endpoint_;
  std::chrono::milliseconds max_idle_;
  ConnectionGauges gauges_;
  absl::flat_hash_map<std::string, std::vector<Idle>, StringViewHash, std::equal_to<>> idle_;
};

}  // namespace pdgate::router
