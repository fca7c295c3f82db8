#pragma once
// The endpoints of every ModelServer, with their PD roles and groups: an immutable snapshot that
// request threads read without locks (shared_ptr<const EndpointSnapshot>). Built from a Config's
// Pods, whether they came from files or from the API server, by BuildEndpointSnapshot.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "discovery/live_endpoint.h"

namespace pdgate::discovery {

enum class EndpointRole { kAggregated, kPrefill, kDecode };
std::string_view ToString(EndpointRole role);

struct Endpoint {
  std::string pod;      // namespace/name
  std::string address;  // status.podIP
  uint16_t port = 0;    // the ModelServer's workloadPort
  EndpointRole role = EndpointRole::kAggregated;
  std::string group;  // the pdGroup.groupKey label value; empty for aggregated endpoints
  const config::Pod* source = nullptr;  // labels and annotations (e.g. SGLang bootstrap port)
  std::shared_ptr<LiveEndpoint> live;   // never null; shared with other snapshots listing it
  // Derived by BuildEndpointSnapshot (DeriveAddress), so that no leg formats or parses them
  // again. Legs go only to snapshot endpoints; one built by hand must call DeriveAddress.
  std::string host_port;               // HostPort()
  std::array<uint8_t, 16> ip_bytes{};  // `address` in network order (4 bytes for IPv4)
  uint8_t ip_family = 0;               // 4, 6, or 0 when `address` is no IP address

  std::string HostPort() const;  // "127.0.0.11:8000", "[::1]:8000"
};

// Fills host_port, ip_bytes and ip_family from address and port.
void DeriveAddress(Endpoint& endpoint);

struct PdGroup {
  std::string name;               // the group label value
  std::vector<uint32_t> prefill;  // indices into ServerEndpoints::endpoints
  std::vector<uint32_t> decode;
  bool CanServe() const { return !prefill.empty() && !decode.empty(); }
};

struct ServerEndpoints {
  const config::ModelServer* server = nullptr;
  std::vector<Endpoint> endpoints;  // serving pods only, in pod definition order
  std::vector<PdGroup> groups;      // in order of first appearance; empty when aggregated
  // Pods that match the selector but cannot serve, with the reason (for summaries and debug).
  std::vector<std::pair<const config::Pod*, std::string>> excluded;
};

struct EndpointSnapshot {
  std::shared_ptr<const config::Config> config;  // keeps every pointer above alive
  std::vector<ServerEndpoints> servers;          // parallel to config->model_servers

  const ServerEndpoints* Find(const config::ModelServer* server) const;
};

// Which role a pod plays for a server, or nullopt-like `excluded_reason` when it plays none.
// Decode labels are checked first: a pod matching both is a decode pod (as Kthena).
struct Membership {
  bool member = false;  // same namespace and all matchLabels
  EndpointRole role = EndpointRole::kAggregated;
  std::string group;
  std::string excluded_reason;  // set when a member cannot serve
};
Membership ClassifyPod(const config::ModelServer& server, const config::Pod& pod);

// `registry` carries live state across snapshots; without one each endpoint starts fresh.
std::shared_ptr<const EndpointSnapshot> BuildEndpointSnapshot(
    const std::shared_ptr<const config::Config>& config, LiveRegistry* registry = nullptr);

// Identity of an endpoint's live state: "ns/pod@host:port".
std::string LiveKey(const Endpoint& endpoint);

// Whether one more of the server's `role` endpoints may be ejected now: at most `max_percent`
// of them are out at once, so a failing network never empties a role.
bool MayEject(const ServerEndpoints& server, EndpointRole role, SteadyTime now, int max_percent);

}  // namespace pdgate::discovery
