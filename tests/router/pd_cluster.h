#pragma once
// A local PD cluster for router integration tests: engine simulators on distinct loopback
// addresses (one per pod, all on one port, as pods in a cluster), the Kubernetes YAML that
// describes them, and pdgate in front. Everything stops when the Cluster goes out of scope.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/net.h"

namespace pdgate::testing {

struct PodSpec {
  std::string group;                  // group label value
  std::string role;                   // "prefill" | "decode" | "" (aggregated)
  std::vector<std::string> sim_args;  // extra pdgate-engine-sim flags
  bool start = true;                  // false: a pod whose address has nothing listening
};

// The model a test cluster serves unless its spec says otherwise.
inline const std::string kModel = "deepseek-ai/DeepSeekV2";

struct ClusterSpec {
  std::string kv_connector = "nixl";  // "" = none
  std::string engine = "vLLM";
  std::string timeout = "10s";
  int retry_attempts = 2;
  std::string retry_interval = "10ms";
  std::string model = kModel;
  std::vector<PodSpec> pods;
  // Appended to the RouterConfiguration spec; {kv_events_port} and {kv_replay_port} are
  // replaced by the ports the cluster picked.
  std::string extra_settings;
  std::string server_annotation;  // one "key: value" annotation on the ModelServer
  std::string route_extra;        // appended to the ModelRoute spec (e.g. "  rateLimit: {...}\n")
  // KV-cache events: every sim publishes them ("array" or "map" encoding; empty: off), with a
  // replay socket when asked, on ports the cluster picks; kv_events_port()/kv_replay_port().
  std::string kv_events;
  bool kv_replay = true;
};

class Cluster {
 public:
  explicit Cluster(const ClusterSpec& spec);
  ~Cluster();

  uint16_t router_port() const { return router_port_; }
  uint16_t admin_port() const { return admin_port_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& pod_address(size_t i) const { return addresses_[i]; }
  uint16_t pod_port() const { return pod_port_; }
  uint16_t kv_events_port() const { return kv_events_port_; }
  uint16_t kv_replay_port() const { return kv_replay_port_; }
  ChildProcess& router() { return *router_; }

  absl::StatusOr<HttpResponse> Post(
      const std::string& target, const std::string& body,
      const std::vector<std::pair<std::string, std::string>>& headers = {},
      std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // A number from pod i's GET /admin/stats at a JSON pointer ("/requests/prefill").
  double Stat(size_t pod, const std::string& pointer);
  bool WaitForStat(size_t pod, const std::string& pointer, double value,
                   std::chrono::milliseconds timeout);
  // Kills pod i's engine at once (SIGKILL, as a crashed pod), or starts it again.
  void KillPod(size_t i);
  void StartPod(size_t i);

 private:
  std::vector<std::string> addresses_;
  uint16_t pod_port_ = 0;
  uint16_t kv_events_port_ = 0;
  uint16_t kv_replay_port_ = 0;
  uint16_t router_port_ = 0;
  uint16_t admin_port_ = 0;
  std::string config_path_;
  std::vector<std::optional<ChildProcess>> sims_;
  std::vector<std::vector<std::string>> sim_argv_;
  std::optional<ChildProcess> router_;
};

// SSE "data:" payloads of a body, in order.
std::vector<std::string> DataEvents(const std::string& body);
// Concatenated generated text of a chat or completions response (streamed or not).
std::string GeneratedText(const std::string& body, bool streamed);
// A number at a JSON pointer of a document; nullopt when absent.
std::optional<double> JsonNumberAt(const std::string& json, const std::string& pointer);
// The admin port's /metrics text; empty when it does not answer 200.
std::string Metrics(const Cluster& cluster);

}  // namespace pdgate::testing
