#include "tests/router/pd_cluster.h"

#include <simdjson.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/paths.h"

namespace pdgate::testing {
namespace {

using namespace std::chrono_literals;

// extra_settings may name the KV-event ports the cluster picked: {kv_events_port},
// {kv_replay_port}.
std::string WithKvPorts(std::string text, uint16_t events, uint16_t replay) {
  for (auto [name, port] : {std::pair<std::string, uint16_t>{"{kv_events_port}", events},
                            std::pair<std::string, uint16_t>{"{kv_replay_port}", replay}}) {
    for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at)) {
      text.replace(at, name.size(), std::to_string(port));
    }
  }
  return text;
}

// A loopback block per test process, so parallel test processes do not collide.
int ClusterAddressBase() { return 20 + int(getpid() % 20) * 10; }

}  // namespace

Cluster::Cluster(const ClusterSpec& spec) {
  const int base = ClusterAddressBase();
  for (size_t i = 0; i < spec.pods.size(); ++i)
    addresses_.push_back(LoopbackAddress(base + int(i)));
  // Each port is free when picked, but none is bound before the sims start: the picks must differ
  // from each other, or a sim binding two of them fails (a CI flake: a side channel drew the pod
  // port).
  std::set<uint16_t> picked;
  const auto pick = [&picked](const std::string& address) {
    uint16_t port = FreePort(address);
    while (!picked.insert(port).second) port = FreePort(address);
    return port;
  };
  // One port for every pod: free on the first address, and each sim binds its own address.
  pod_port_ = pick(addresses_.empty() ? "127.0.0.1" : addresses_[0]);
  // Side channels (vLLM KV port, SGLang bootstrap port) on free ports; SGLang's is announced to
  // pdgate by the pod annotation, as an operator would for a non-default port.
  std::vector<uint16_t> side_ports;
  for (const std::string& address : addresses_) side_ports.push_back(pick(address));
  if (!spec.kv_events.empty()) {
    kv_events_port_ = pick(addresses_[0]);
    if (spec.kv_replay) kv_replay_port_ = pick(addresses_[0]);
  }
  std::string yaml =
      "apiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelServer\n"
      "metadata:\n  name: pd\n  namespace: dev\n" +
      (spec.server_annotation.empty() ? std::string()
                                      : "  annotations: {" + spec.server_annotation + "}\n") +
      "spec:\n  model: \"" + spec.model + "\"\n  inferenceEngine: " + spec.engine + "\n";
  if (!spec.kv_connector.empty()) yaml += "  kvConnector: {type: " + spec.kv_connector + "}\n";
  yaml += "  workloadSelector:\n    matchLabels: {app: sim}\n";
  const bool pd = !spec.pods.empty() && !spec.pods[0].role.empty();
  if (pd) {
    yaml +=
        "    pdGroup:\n      groupKey: group\n      prefillLabels: {role: prefill}\n"
        "      decodeLabels: {role: decode}\n";
  }
  yaml += "  workloadPort: {port: " + std::to_string(pod_port_) +
          "}\n  trafficPolicy:\n    timeout: " + spec.timeout +
          "\n    retry: {attempts: " + std::to_string(spec.retry_attempts) +
          ", retryInterval: " + spec.retry_interval +
          "}\n---\n"
          "apiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelRoute\n"
          "metadata: {name: route, namespace: dev}\nspec:\n  modelName: \"" +
          spec.model + "\"\n  rules:\n    - targetModels: [{modelServerName: pd}]\n" +
          spec.route_extra;
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const PodSpec& pod = spec.pods[i];
    yaml += "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-" + std::to_string(i) +
            "\n  namespace: dev\n";
    if (spec.engine == "SGLang") {
      yaml += "  annotations: {pdgate.io/sglang-bootstrap-port: \"" +
              std::to_string(side_ports[i]) + "\"}\n";
    }
    yaml += "  labels: {app: sim";
    if (!pod.group.empty()) yaml += ", group: " + pod.group;
    if (!pod.role.empty()) yaml += ", role: " + pod.role;
    yaml += "}\nstatus:\n  phase: Running\n  podIP: " + addresses_[i] +
            "\n  conditions: [{type: Ready, status: \"True\"}]\n";
  }
  yaml +=
      "---\napiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n"
      "spec:\n  threads: 2\n" +
      WithKvPorts(spec.extra_settings, kv_events_port_, kv_replay_port_);
  config_path_ = TempFile("cluster", ".yaml");
  std::ofstream(config_path_) << yaml;

  for (size_t i = 0; i < spec.pods.size(); ++i) {
    const PodSpec& pod = spec.pods[i];
    if (!pod.start) {
      sims_.emplace_back();
      sim_argv_.emplace_back();
      continue;
    }
    std::vector<std::string> argv = {BinaryPath("pdgate-engine-sim"),
                                     "--host",
                                     addresses_[i],
                                     "--port",
                                     std::to_string(pod_port_),
                                     "--quiet",
                                     "--model",
                                     spec.model,
                                     "--kv-port",
                                     std::to_string(side_ports[i]),
                                     "--bootstrap-port",
                                     std::to_string(side_ports[i])};
    argv.push_back("--role");
    argv.push_back(pod.role.empty() ? "both" : pod.role);
    if (spec.engine == "SGLang") {
      argv.push_back("--engine");
      argv.push_back("sglang");
    }
    if (!spec.kv_events.empty()) {
      for (const std::string& arg :
           {std::string("--kv-events-port"), std::to_string(kv_events_port_),
            std::string("--kv-events-encoding"), spec.kv_events}) {
        argv.push_back(arg);
      }
      if (spec.kv_replay) {
        argv.push_back("--kv-events-replay-port");
        argv.push_back(std::to_string(kv_replay_port_));
      }
    }
    argv.insert(argv.end(), pod.sim_args.begin(), pod.sim_args.end());
    sim_argv_.push_back(argv);
    auto process = ChildProcess::Start(argv);
    if (!process.ok()) throw std::runtime_error("cannot start pdgate-engine-sim");
    sims_.emplace_back(std::move(*process));
  }
  for (size_t i = 0; i < spec.pods.size(); ++i) {
    if (sims_[i] && !WaitForPort(addresses_[i], pod_port_, 10s)) {
      throw std::runtime_error("sim did not come up: " + sims_[i]->Stderr());
    }
  }
  // A port FreePort() found free may be taken by a parallel test before pdgate binds it: then
  // pdgate exits at once, and it is started again on other ports.
  for (int attempt = 0;; ++attempt) {
    router_port_ = FreePort();
    admin_port_ = FreePort();
    auto router = ChildProcess::Start({BinaryPath("pdgate"), "--config", config_path_, "--port",
                                       std::to_string(router_port_), "--admin-port",
                                       std::to_string(admin_port_)});
    if (!router.ok()) throw std::runtime_error("cannot start pdgate");
    router_.emplace(std::move(*router));
    if (WaitForHttpStatus("127.0.0.1", router_port_, "/healthz", 200, 10s)) break;
    const bool port_taken = router_->Stdout().find("Address already in use") != std::string::npos;
    if (!port_taken || attempt == 2) break;
    router_.reset();
  }
  if (!WaitForHttpStatus("127.0.0.1", router_port_, "/healthz", 200, 1s)) {
    // pdgate logs to stdout (errors included); both, to see why.
    throw std::runtime_error(
        "pdgate did not come up (exit " +
        std::to_string(router_->WaitFor(std::chrono::milliseconds(0)).value_or(-1)) +
        "): " + router_->Stdout() + router_->Stderr());
  }
}

void Cluster::KillPod(size_t i) {
  if (!sims_[i]) return;
  sims_[i]->Signal(SIGKILL);
  sims_[i]->WaitFor(10s);
  sims_[i].reset();
}

void Cluster::StartPod(size_t i) {
  auto process = ChildProcess::Start(sim_argv_[i]);
  if (!process.ok()) throw std::runtime_error("cannot start pdgate-engine-sim");
  sims_[i].emplace(std::move(*process));
  if (!WaitForPort(addresses_[i], pod_port_, 10s)) {
    throw std::runtime_error("sim did not come up again: " + sims_[i]->Stderr());
  }
}

Cluster::~Cluster() {
  router_.reset();
  sims_.clear();
  std::remove(config_path_.c_str());
}

absl::StatusOr<HttpResponse> Cluster::Post(
    const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers,
    std::chrono::milliseconds timeout) {
  auto all = headers;
  all.emplace_back("Content-Type", "application/json");
  return HttpRequest("127.0.0.1", router_port_, "POST", target, body, all, timeout);
}

double Cluster::Stat(size_t pod, const std::string& pointer) {
  auto response = HttpRequest(addresses_[pod], pod_port_, "GET", "/admin/stats");
  if (!response.ok() || response->status != 200) return -1;
  return JsonNumberAt(response->body, pointer).value_or(-1);
}

bool Cluster::WaitForStat(size_t pod, const std::string& pointer, double value,
                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (Stat(pod, pointer) == value) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);  // poll interval
  }
}

std::optional<double> JsonNumberAt(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc)) return std::nullopt;
  simdjson::dom::element value;
  if (doc.at_pointer(pointer).get(value)) return std::nullopt;
  double number = 0;
  if (value.is_bool()) return value.get_bool().value() ? 1.0 : 0.0;
  if (value.get_double().get(number)) {
    int64_t i = 0;
    if (value.get_int64().get(i)) return std::nullopt;
    return double(i);
  }
  return number;
}

std::vector<std::string> DataEvents(const std::string& body) {
  std::vector<std::string> events;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string event = body.substr(pos, end - pos);
    if (event.rfind("data: ", 0) == 0) events.push_back(event.substr(6));
    pos = end + 2;
  }
  return events;
}

std::string GeneratedText(const std::string& body, bool streamed) {
  simdjson::dom::parser parser;
  std::string text;
  auto take = [&](const std::string& json, bool delta) {
    simdjson::dom::element doc;
    if (parser.parse(json).get(doc)) return;
    simdjson::dom::array choices;
    if (doc["choices"].get_array().get(choices)) return;
    for (simdjson::dom::element choice : choices) {
      std::string_view piece;
      if (!choice["text"].get_string().get(piece)) {
        text += piece;
      } else if (!choice[delta ? "delta" : "message"]["content"].get_string().get(piece)) {
        text += piece;
      }
    }
  };
  if (!streamed) {
    take(body, false);
    return text;
  }
  for (const std::string& event : DataEvents(body)) {
    if (event != "[DONE]") take(event, true);
  }
  return text;
}

std::string Metrics(const Cluster& cluster) {
  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  return metrics.ok() && metrics->status == 200 ? metrics->body : std::string();
}

}  // namespace pdgate::testing
