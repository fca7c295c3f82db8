#pragma once
// One io thread's world: its io_context, its upstream pool, its copy of the router state, its
// random source and pick counter. Everything a request touches lives on one thread.
#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <memory>
#include <random>

#include "router/lifecycle.h"
#include "router/net.h"
#include "router/router_state.h"
#include "router/upstream_pool.h"

namespace pdgate::router {

struct Worker {
  Worker(net::io_context& context, std::shared_ptr<const RouterState> initial, uint64_t seed,
         const Lifecycle* process_lifecycle)
      : ioc(context),
        lifecycle(process_lifecycle),
        state(std::move(initial)),
        pool(state->config->settings.limits.upstream_pool_size,
             state->config->settings.timeouts.upstream_pool_idle,
             state->metrics_registry ? state->metrics_registry->upstream_connections()
                                     : ConnectionGauges{}),
        rng(seed) {}

  const config::RouterSettings& settings() const { return state->config->settings; }
  bool draining() const { return lifecycle->draining.load(std::memory_order_relaxed); }
  bool ready() const { return lifecycle->ready(); }

  // Closes the connections that sit idle between requests (drain); busy ones close after their
  // response. Runs on this worker's thread.
  void CloseIdleConnections() {
    for (auto& [stream, busy] : sessions) {
      if (busy) continue;
      beast::error_code ignored;
      stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
  }

  net::io_context& ioc;
  const Lifecycle* lifecycle;
  std::shared_ptr<const RouterState> state;  // replaced by a post() onto this thread
  UpstreamPool pool;
  std::mt19937_64 rng;
  class AccessLog* access_log = nullptr;  // process-wide, owned by the server
  std::atomic<size_t> connections{0};     // read by the drain watcher on another thread
  absl::flat_hash_map<beast::tcp_stream*, bool> sessions;  // open client connections → busy
};

}  // namespace pdgate::router
