#pragma once
// JSON views of the router's state for /debug/* on the admin port: what an operator checks when
// traffic goes somewhere unexpected.
#include <string>

#include "router/runtime/router_state.h"

namespace pdgate::router {

std::string DebugConfigJson(const RouterState& state);     // effective settings and sources
std::string DebugRoutesJson(const RouterState& state);     // ModelRoutes, rules, targets
std::string DebugEndpointsJson(const RouterState& state);  // servers, endpoints, PD groups

}  // namespace pdgate::router
