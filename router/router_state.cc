#include "router/router_state.h"

namespace pdgate::router {

std::shared_ptr<const RouterState> MakeRouterState(
    const std::shared_ptr<const config::Config>& config, std::shared_ptr<RouterMetrics> metrics) {
  auto state = std::make_shared<RouterState>();
  state->config = config;
  state->routes = std::make_shared<const config::RouteTable>(config);
  state->endpoints = discovery::BuildEndpointSnapshot(config);
  state->metrics_registry = metrics ? std::move(metrics) : std::make_shared<RouterMetrics>();
  state->metrics =
      state->metrics_registry->Resolve(state->routes->model_names(), *state->endpoints);
  return state;
}

}  // namespace pdgate::router
