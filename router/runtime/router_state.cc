#include "router/runtime/router_state.h"

namespace pdgate::router {

std::shared_ptr<const RouterState> MakeRouterState(
    const std::shared_ptr<const config::Config>& config, const RouterState* previous) {
  auto state = std::make_shared<RouterState>();
  state->config = config;
  state->routes = std::make_shared<const config::RouteTable>(config);
  state->live = previous != nullptr ? previous->live : std::make_shared<discovery::LiveRegistry>();
  state->endpoints = discovery::BuildEndpointSnapshot(config, state->live.get());
  state->metrics_registry =
      previous != nullptr ? previous->metrics_registry : std::make_shared<RouterMetrics>();
  state->limits = std::make_shared<const limits::RouteLimits>(
      *config, previous != nullptr ? previous->limits.get() : nullptr);
  state->principal_limits = std::make_shared<const limits::PrincipalLimits>(
      config->settings, previous != nullptr ? previous->principal_limits.get() : nullptr);
  if (previous != nullptr && previous->fairness) {
    state->fairness = previous->fairness;
    state->fairness->Configure(config->settings.fairness);
  } else {
    state->fairness = std::make_shared<fairness::FairnessQueues>(config->settings.fairness);
  }
  std::vector<std::string> limited_routes;
  for (const limits::RouteLimit& limit : state->limits->all()) limited_routes.push_back(limit.key);
  std::vector<std::string> principal_limits;
  for (const limits::PrincipalLimit& limit : state->principal_limits->all()) {
    principal_limits.push_back(limit.setting.name);
  }
  state->metrics = state->metrics_registry->Resolve(state->routes->model_names(), *state->endpoints,
                                                    limited_routes, principal_limits,
                                                    config->settings.fairness.enabled);
  // The index is kept unless its bound changed (a new bound starts it empty).
  const config::SchedulerSettings& scheduler = config->settings.scheduler;
  std::shared_ptr<pd_scheduler::PrefixIndex> index;
  if (previous != nullptr &&
      previous->config->settings.scheduler.prefix_cache.max_hash_cache_size ==
          scheduler.prefix_cache.max_hash_cache_size) {
    index = previous->scheduler->prefix_index();
  } else {
    index = std::make_shared<pd_scheduler::PrefixIndex>(
        size_t(scheduler.prefix_cache.max_hash_cache_size));
  }
  // The engines' KV events (kvcache-aware): kept like the prefix index; none while it is off.
  std::shared_ptr<discovery::KvBlockIndex> kv_index;
  if (scheduler.kv_cache_aware_enabled()) {
    const std::shared_ptr<discovery::KvBlockIndex> kept =
        previous != nullptr ? previous->scheduler->kv_index() : nullptr;
    if (kept != nullptr && previous->config->settings.scheduler.kv_cache_aware.max_indexed_blocks ==
                               scheduler.kv_cache_aware.max_indexed_blocks) {
      kv_index = kept;
    } else {
      kv_index = std::make_shared<discovery::KvBlockIndex>(
          size_t(scheduler.kv_cache_aware.max_indexed_blocks), kKvIndexReaderSlots);
    }
  }
  state->scheduler = std::make_shared<const pd_scheduler::Scheduler>(scheduler, std::move(index),
                                                                     std::move(kv_index));
  state->auth = auth::MakeAuthPolicy(config->settings.auth);
  return state;
}

std::shared_ptr<const RouterState> ThreadLocalHandle(std::shared_ptr<const RouterState> state) {
  if (state == nullptr) return nullptr;
  const RouterState* raw = state.get();
  // The aliasing constructor: the new count owns the shared one, and points at the same state.
  auto owner = std::make_shared<const std::shared_ptr<const RouterState>>(std::move(state));
  return std::shared_ptr<const RouterState>(std::move(owner), raw);
}

}  // namespace pdgate::router
