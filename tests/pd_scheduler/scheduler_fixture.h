#pragma once
// Builds ServerEndpoints by hand for scheduler tests: groups of prefill and decode members, or
// plain aggregated endpoints, each with its own live state that a test sets.
#include <memory>
#include <string>
#include <vector>

#include "discovery/endpoint_snapshot.h"

namespace pdgate::testing {

struct TestServer {
  std::unique_ptr<config::ModelServer> model_server = std::make_unique<config::ModelServer>();
  discovery::ServerEndpoints endpoints;
  discovery::LiveRegistry registry;

  discovery::LiveEndpoint& live(uint32_t i) { return *endpoints.endpoints[i].live; }

  uint32_t Add(discovery::EndpointRole role, const std::string& group, const std::string& name) {
    discovery::Endpoint endpoint;
    endpoint.pod = "ns/" + name;
    endpoint.address = "10.0.0." + std::to_string(endpoints.endpoints.size() + 1);
    endpoint.port = 8000;
    endpoint.role = role;
    endpoint.group = group;
    endpoint.live = registry.Acquire(discovery::LiveKey(endpoint));
    const auto index = uint32_t(endpoints.endpoints.size());
    endpoints.endpoints.push_back(std::move(endpoint));
    if (role == discovery::EndpointRole::kAggregated) return index;
    discovery::PdGroup* target = nullptr;
    for (auto& existing : endpoints.groups) {
      if (existing.name == group) target = &existing;
    }
    if (target == nullptr) {
      target = &endpoints.groups.emplace_back();
      target->name = group;
    }
    (role == discovery::EndpointRole::kPrefill ? target->prefill : target->decode).push_back(index);
    return index;
  }
};

// `groups` groups of `prefills` P and `decodes` D each: g0-p0, g0-d0, ...
inline std::unique_ptr<TestServer> PdServer(int groups, int prefills = 1, int decodes = 1) {
  auto server = std::make_unique<TestServer>();
  server->model_server->pd_group = config::PdGroupSelector{};
  server->endpoints.server = server->model_server.get();
  for (int g = 0; g < groups; ++g) {
    const std::string group = "g" + std::to_string(g);
    for (int p = 0; p < prefills; ++p) {
      server->Add(discovery::EndpointRole::kPrefill, group, group + "-p" + std::to_string(p));
    }
    for (int d = 0; d < decodes; ++d) {
      server->Add(discovery::EndpointRole::kDecode, group, group + "-d" + std::to_string(d));
    }
  }
  return server;
}

inline std::unique_ptr<TestServer> AggregatedServer(int count) {
  auto server = std::make_unique<TestServer>();
  server->endpoints.server = server->model_server.get();
  for (int i = 0; i < count; ++i) {
    server->Add(discovery::EndpointRole::kAggregated, "", "e" + std::to_string(i));
  }
  return server;
}

}  // namespace pdgate::testing
