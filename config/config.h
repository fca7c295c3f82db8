#pragma once
// The whole validated configuration: immutable once loaded, shared as shared_ptr<const Config>.
#include <vector>

#include "config/model_route.h"
#include "config/model_server.h"
#include "config/pod.h"
#include "config/router_settings.h"

namespace pdgate::config {

struct Config {
  std::vector<ModelServer> model_servers;  // in definition order
  std::vector<ModelRoute> model_routes;    // in definition order: the first defined wins a name
  std::vector<Pod> pods;
  RouterSettings settings;

  const ModelServer* FindModelServer(std::string_view namespace_, std::string_view name) const;
};

}  // namespace pdgate::config
