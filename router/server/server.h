#pragma once
// The API listener: one io thread per core (or --threads), each with its own io_context and its
// own SO_REUSEPORT acceptor, so the kernel spreads connections and no two threads share a
// connection, a pool or a counter.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/loader.h"
#include "discovery/kube_source.h"
#include "router/runtime/router_state.h"

namespace pdgate::router {

// Serves until SIGINT/SIGTERM. Returns the process exit code.
// Where the configuration came from, to load it again on SIGHUP or when a file changes.
struct ConfigSource {
  std::vector<std::string> files;
  config::SettingsOverrides overrides;
  // Live discovery from the API server; its objects are combined with the files.
  std::optional<discovery::KubeSourceOptions> kubernetes;
};

// Takes the caller's reference to the first state: once a reload replaces it, nothing may keep
// it (its metric series would stay in the exposition).
int RunServer(std::shared_ptr<const RouterState> state, ConfigSource source);

}  // namespace pdgate::router
