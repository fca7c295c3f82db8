#include "discovery/endpoint_snapshot.h"

#include <arpa/inet.h>

#include "base/strings.h"

namespace pdgate::discovery {

std::string_view ToString(EndpointRole role) {
  switch (role) {
    case EndpointRole::kAggregated:
      return "aggregated";
    case EndpointRole::kPrefill:
      return "prefill";
    case EndpointRole::kDecode:
      return "decode";
  }
  return "?";
}

std::string Endpoint::HostPort() const {
  if (address.find(':') != std::string::npos) return StrCat("[", address, "]:", port);
  return StrCat(address, ":", port);
}

void DeriveAddress(Endpoint& endpoint) {
  endpoint.host_port = endpoint.HostPort();
  endpoint.ip_bytes = {};
  endpoint.ip_family = 0;
  if (::inet_pton(AF_INET, endpoint.address.c_str(), endpoint.ip_bytes.data()) == 1) {
    endpoint.ip_family = 4;
  } else if (::inet_pton(AF_INET6, endpoint.address.c_str(), endpoint.ip_bytes.data()) == 1) {
    endpoint.ip_family = 6;
  }
}

const ServerEndpoints* EndpointSnapshot::Find(const config::ModelServer* server) const {
  for (const ServerEndpoints& entry : servers) {
    if (entry.server == server) return &entry;
  }
  return nullptr;
}

Membership ClassifyPod(const config::ModelServer& server, const config::Pod& pod) {
  Membership result;
  if (pod.meta.namespace_ != server.meta.namespace_ ||
      !config::MatchesAll(server.match_labels, pod.meta.labels)) {
    return result;
  }
  result.member = true;
  if (std::string_view reason = pod.NotServingReason(); !reason.empty()) {
    result.excluded_reason = reason;
    return result;
  }
  if (!server.pd_group) return result;
  const config::PdGroupSelector& pd = *server.pd_group;
  if (config::MatchesAll(pd.decode_labels, pod.meta.labels)) {
    result.role = EndpointRole::kDecode;
  } else if (config::MatchesAll(pd.prefill_labels, pod.meta.labels)) {
    result.role = EndpointRole::kPrefill;
  } else {
    result.excluded_reason = "matches neither prefillLabels nor decodeLabels";
    return result;
  }
  auto group = pod.meta.labels.find(pd.group_key);
  if (group == pod.meta.labels.end() || group->second.empty()) {
    result.excluded_reason = StrCat("no ", pd.group_key, " label");
    return result;
  }
  result.group = group->second;
  return result;
}

std::string LiveKey(const Endpoint& endpoint) {
  return StrCat(endpoint.pod, "@", endpoint.HostPort());
}

bool MayEject(const ServerEndpoints& server, EndpointRole role, SteadyTime now, int max_percent) {
  int total = 0;
  int ejected = 0;
  for (const Endpoint& endpoint : server.endpoints) {
    if (endpoint.role != role) continue;
    ++total;
    if (endpoint.live->Ejected(now)) ++ejected;
  }
  return int64_t(ejected + 1) * 100 <= int64_t(max_percent) * total;
}

std::shared_ptr<const EndpointSnapshot> BuildEndpointSnapshot(
    const std::shared_ptr<const config::Config>& config, LiveRegistry* registry) {
  auto snapshot = std::make_shared<EndpointSnapshot>();
  snapshot->config = config;
  for (const config::ModelServer& server : config->model_servers) {
    ServerEndpoints& entry = snapshot->servers.emplace_back();
    entry.server = &server;
    for (const config::Pod& pod : config->pods) {
      Membership membership = ClassifyPod(server, pod);
      if (!membership.member) continue;
      if (!membership.excluded_reason.empty()) {
        entry.excluded.emplace_back(&pod, std::move(membership.excluded_reason));
        continue;
      }
      const auto index = uint32_t(entry.endpoints.size());
      Endpoint& endpoint = entry.endpoints.emplace_back();
      endpoint.pod = pod.meta.Key();
      endpoint.address = pod.pod_ip;
      endpoint.port = server.port;
      endpoint.role = membership.role;
      endpoint.group = membership.group;
      endpoint.source = &pod;
      DeriveAddress(endpoint);
      const std::string key = LiveKey(endpoint);
      endpoint.live =
          registry != nullptr ? registry->Acquire(key) : std::make_shared<LiveEndpoint>(key, index);
      if (!server.pd_group) continue;
      PdGroup* group = nullptr;
      for (PdGroup& existing : entry.groups) {
        if (existing.name == membership.group) group = &existing;
      }
      if (group == nullptr) {
        group = &entry.groups.emplace_back();
        group->name = membership.group;
      }
      (membership.role == EndpointRole::kDecode ? group->decode : group->prefill).push_back(index);
    }
  }
  return snapshot;
}

}  // namespace pdgate::discovery
