#pragma once
// One io thread's world: its io_context, its upstream pool, its copy of the router state, its
// random source and pick counter. Everything a request touches lives on one thread.
#include <memory>
#include <random>

#include "router/net.h"
#include "router/router_state.h"
#include "router/upstream_pool.h"

namespace pdgate::router {

struct Worker {
  Worker(net::io_context& context, std::shared_ptr<const RouterState> initial, uint64_t seed)
      : ioc(context),
        state(std::move(initial)),
        pool(state->config->settings.limits.upstream_pool_size,
             state->config->settings.timeouts.upstream_pool_idle),
        rng(seed) {}

  const config::RouterSettings& settings() const { return state->config->settings; }

  net::io_context& ioc;
  std::shared_ptr<const RouterState> state;  // replaced by a post() onto this thread
  UpstreamPool pool;
  std::mt19937_64 rng;
  uint64_t sequence = 0;  // requests seen, for round-robin picks
  size_t connections = 0;
};

}  // namespace pdgate::router
