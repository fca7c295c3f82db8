#pragma once
// One io thread's world: its io_context, its upstream pool, its copy of the router state, its
// random source, its sessions, token cache and Redis clients. Everything a request touches lives
// on one thread.
#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <functional>
#include <memory>
#include <random>

#include "router/auth/token_cache.h"
#include "router/http/net.h"
#include "router/http/watch_queue.h"
#include "router/limits/gcra_client.h"
#include "router/runtime/lifecycle.h"
#include "router/runtime/router_state.h"
#include "router/runtime/tokenize_cache.h"
#include "router/upstream/upstream_leg.h"
#include "router/upstream/upstream_pool.h"

namespace pdgate::auth {
class KeySet;
}  // namespace pdgate::auth

namespace pdgate::discovery {
struct KvSubscriberCounters;
}  // namespace pdgate::discovery

namespace pdgate::router {

struct AuthMetrics;

struct Worker {
  Worker(net::io_context& context, std::shared_ptr<const RouterState> initial, uint64_t seed,
         const Lifecycle* process_lifecycle)
      : ioc(context),
        lifecycle(process_lifecycle),
        state(ThreadLocalHandle(std::move(initial))),
        pool(state->config->settings.limits.upstream_pool_size,
             state->config->settings.timeouts.upstream_pool_idle,
             state->metrics_registry ? state->metrics_registry->upstream_connections()
                                     : ConnectionGauges{}),
        rng(seed),
        watches(context, kWatchDelay) {}

  // How long a request runs before its client is watched for leaving (router/http/watch_queue.h).
  static constexpr std::chrono::milliseconds kWatchDelay{20};

  const config::RouterSettings& settings() const { return state->config->settings; }
  bool draining() const { return lifecycle->draining.load(std::memory_order_relaxed); }
  bool ready() const { return lifecycle->ready(); }
  UpstreamContext upstream() {
    return {ioc, pool, settings().limits.max_upstream_header_bytes,
            settings().timeouts.upstream_connect};
  }

  // Closes the connections that sit idle between requests (drain); busy ones close after their
  // response. Runs on this worker's thread.
  void CloseIdleConnections() {
    for (auto& [stream, busy] : sessions) {
      if (*busy) continue;
      beast::error_code ignored;
      stream->socket().shutdown(Socket::shutdown_both, ignored);
      stream->socket().close(ignored);
    }
  }

  net::io_context& ioc;
  const Lifecycle* lifecycle;
  // Replaced by a post() onto this thread; its own count (ThreadLocalHandle).
  std::shared_ptr<const RouterState> state;
  UpstreamPool pool;
  std::mt19937_64 rng;
  WatchQueue watches;
  class AccessLog* access_log = nullptr;  // process-wide, owned by the server
  std::atomic<size_t> connections{0};     // read by the drain watcher on another thread
  // Open client connections → whether each is busy (a flag its session owns and sets without a
  // lookup per request).
  absl::flat_hash_map<Stream*, const bool*> sessions;
  // Authentication: the JWT key set (replaced by a post() onto this thread, like `state`), the
  // thread's cache of verified tokens (cleared whenever the set or the configuration changes),
  // and how to ask for a new set when a token names an unknown key.
  std::shared_ptr<const auth::KeySet> jwks;
  auth::TokenCache token_cache;
  // kvcache-aware: this thread's reader slot in the KV block index, and its /tokenize answers.
  uint32_t kv_reader = 0;
  TokenizeCache tokenize_cache;
  const discovery::KvSubscriberCounters* kv_events = nullptr;  // the admin worker's, for /metrics
  std::function<void()> request_jwks_refresh;
  const AuthMetrics* auth_metrics = nullptr;  // process-wide, owned by the server
  // Redis clients of global rate limits, by address, opened on first use on this thread: one
  // pipelined connection each, where the debits after answers wait for the next check (see
  // limits/gcra_client.h). Closed before the io_context goes.
  absl::flat_hash_map<std::string, std::unique_ptr<limits::GcraClient>> redis;

  limits::GcraClient& Redis(const std::string& host, uint16_t port) {
    std::unique_ptr<limits::GcraClient>& client = redis[StrCat(host, ":", port)];
    if (!client) {
      const config::RedisLimitSettings& options = settings().rate_limit_redis;
      limits::RedisOptions redis_options;
      redis_options.host = host;
      redis_options.port = port;
      redis_options.password = options.password;
      redis_options.command_timeout = options.timeout;
      // Debits a failed call dropped count as Redis errors, one per key (the client logs them).
      client = std::make_unique<limits::GcraClient>(
          ioc, std::move(redis_options), limits::GcraClientOptions{},
          [this](size_t keys) { Increment(state->metrics->redis_errors, double(keys)); });
    }
    return *client;
  }
};

}  // namespace pdgate::router
