#include "router/router_state.h"

namespace pdgate::router {

std::shared_ptr<const RouterState> MakeRouterState(
    const std::shared_ptr<const config::Config>& config) {
  auto state = std::make_shared<RouterState>();
  state->config = config;
  state->routes = std::make_shared<const config::RouteTable>(config);
  state->endpoints = discovery::BuildEndpointSnapshot(config);
  return state;
}

}  // namespace pdgate::router
