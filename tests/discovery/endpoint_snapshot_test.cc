// Pods → endpoints of a ModelServer, with PD roles and groups (label-defined, as Kthena).
#include "discovery/endpoint_snapshot.h"

#include <catch2/catch.hpp>

#include "tests/config/config_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

std::shared_ptr<const discovery::EndpointSnapshot> Snapshot(const std::string& yaml) {
  config::LoadResult result = LoadYaml(yaml);
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  return discovery::BuildEndpointSnapshot(result.config);
}

std::string PdPod(const std::string& name, const std::string& group, const std::string& role,
                  const std::string& ip) {
  std::string labels = "    app: ds\n";
  if (!group.empty()) labels += "    group: " + group + "\n";
  if (!role.empty()) labels += "    role: " + role + "\n";
  labels.pop_back();
  return "---\n" + Pod(name, labels, ip);
}

}  // namespace

TEST_CASE("pods are grouped by the groupKey label, prefill and decode by their labels") {
  auto snapshot = Snapshot(
      std::string(kServerYaml) + PdPod("g0-p", "g0", "prefill", "10.0.0.1") +
      PdPod("g0-d", "g0", "decode", "10.0.0.2") + PdPod("g1-p", "g1", "prefill", "10.0.0.3") +
      PdPod("g1-d0", "g1", "decode", "10.0.0.4") + PdPod("g1-d1", "g1", "decode", "10.0.0.5"));
  REQUIRE(snapshot->servers.size() == 1);
  const discovery::ServerEndpoints& entry = snapshot->servers[0];
  REQUIRE(entry.endpoints.size() == 5);
  CHECK(entry.endpoints[0].HostPort() == "10.0.0.1:8000");
  CHECK(entry.endpoints[0].role == discovery::EndpointRole::kPrefill);
  CHECK(entry.endpoints[1].role == discovery::EndpointRole::kDecode);
  REQUIRE(entry.groups.size() == 2);
  CHECK(entry.groups[0].name == "g0");
  CHECK(entry.groups[0].prefill == std::vector<uint32_t>{0});
  CHECK(entry.groups[0].decode == std::vector<uint32_t>{1});
  CHECK(entry.groups[1].name == "g1");
  CHECK(entry.groups[1].prefill == std::vector<uint32_t>{2});
  CHECK(entry.groups[1].decode == std::vector<uint32_t>{3, 4});
  CHECK(entry.excluded.empty());
}

TEST_CASE("a pod matching both role label sets is a decode pod") {
  auto snapshot = Snapshot(
      Replace(std::string(kServerYaml), "        role: prefill\n", "        tier: gpu\n") +
      "---\n" +
      Pod("both", "    app: ds\n    group: g\n    tier: gpu\n    role: decode", "10.0.0.9"));
  const auto& entry = snapshot->servers[0];
  REQUIRE(entry.endpoints.size() == 1);
  CHECK(entry.endpoints[0].role == discovery::EndpointRole::kDecode);
  CHECK_FALSE(entry.groups[0].CanServe());
}

TEST_CASE("pods that cannot serve are listed with the reason and get no traffic") {
  auto snapshot = Snapshot(
      std::string(kServerYaml) + PdPod("nogroup", "", "prefill", "10.0.0.1") +
      PdPod("norole", "g", "", "10.0.0.2") + "---\n" +
      Pod("pending", "    app: ds\n    group: g\n    role: decode", "10.0.0.3", "Pending") +
      "---\n" + Pod("other-app", "    app: other", "10.0.0.4"));
  const auto& entry = snapshot->servers[0];
  CHECK(entry.endpoints.empty());
  CHECK(entry.groups.empty());
  REQUIRE(entry.excluded.size() == 3);  // the other app's pod is not a member at all
  CHECK(entry.excluded[0].second == "no group label");
  CHECK(entry.excluded[1].second == "matches neither prefillLabels nor decodeLabels");
  CHECK(entry.excluded[2].second == "not Running");
}

TEST_CASE("pods of another namespace never join") {
  auto snapshot =
      Snapshot(std::string(kServerYaml) + "---\n" +
               Replace(Pod("p", "    app: ds\n    group: g\n    role: decode", "10.0.0.1"),
                       "namespace: dev", "namespace: prod"));
  CHECK(snapshot->servers[0].endpoints.empty());
  CHECK(snapshot->servers[0].excluded.empty());
}

TEST_CASE("an aggregated server takes every matching serving pod") {
  auto snapshot = Snapshot(
      Replace(std::string(kServerYaml),
              "    pdGroup:\n      groupKey: group\n      prefillLabels:\n        "
              "role: prefill\n      decodeLabels:\n        role: decode\n",
              "") +
      "---\n" + Pod("a", "    app: ds", "10.0.0.1") + "---\n" + Pod("b", "    app: ds", "::1"));
  const auto& entry = snapshot->servers[0];
  REQUIRE(entry.endpoints.size() == 2);
  CHECK(entry.endpoints[0].role == discovery::EndpointRole::kAggregated);
  CHECK(entry.endpoints[1].HostPort() == "[::1]:8000");
  CHECK(entry.groups.empty());
  // What legs use is derived once, with the snapshot.
  CHECK(entry.endpoints[0].host_port == "10.0.0.1:8000");
  CHECK(entry.endpoints[0].ip_family == 4);
  CHECK(entry.endpoints[0].ip_bytes[0] == 10);
  CHECK(entry.endpoints[0].ip_bytes[3] == 1);
  CHECK(entry.endpoints[1].host_port == "[::1]:8000");
  CHECK(entry.endpoints[1].ip_family == 6);
  CHECK(entry.endpoints[1].ip_bytes[15] == 1);
}

TEST_CASE("an address that is no IP address derives no IP bytes") {
  discovery::Endpoint endpoint;
  endpoint.address = "pod-a.example";
  endpoint.port = 8000;
  discovery::DeriveAddress(endpoint);
  CHECK(endpoint.ip_family == 0);
  CHECK(endpoint.host_port == "pod-a.example:8000");
}
