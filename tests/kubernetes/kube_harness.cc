#include "tests/kubernetes/kube_harness.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <thread>

#include "tests/router/pd_cluster.h"
#include "tests/support/paths.h"

namespace pdgate::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "test-token";

// A loopback block per test process (apart from pd_cluster's 20..219), so parallel test
// processes do not collide.
int KubeAddressBase() { return 220 + int(getpid() % 6) * 5; }

}  // namespace

KubeHarness::KubeHarness(size_t sims) {
  const int base = KubeAddressBase();
  for (size_t i = 0; i < sims; ++i) addresses_.push_back(LoopbackAddress(base + int(i)));
  pod_port_ = FreePort(addresses_.empty() ? "127.0.0.1" : addresses_[0]);
  for (const std::string& address : addresses_) {
    uint16_t side = FreePort(address);
    while (side == pod_port_) side = FreePort(address);  // both bound by this sim
    auto sim = ChildProcess::Start({BinaryPath("pdgate-engine-sim"), "--host", address, "--port",
                                    std::to_string(pod_port_), "--quiet", "--model", kKubeModel,
                                    "--kv-port", std::to_string(side), "--bootstrap-port",
                                    std::to_string(side), "--role", "both"});
    if (!sim.ok()) throw std::runtime_error("cannot start pdgate-engine-sim");
    sims_.push_back(std::move(*sim));
  }
  for (size_t i = 0; i < sims_.size(); ++i) {
    if (!WaitForPort(addresses_[i], pod_port_, 10s)) {
      throw std::runtime_error("sim did not come up: " + sims_[i].Stderr());
    }
  }
  api_port_ = FreePort();
  kubeconfig_ = TempFile("kube", ".kubeconfig");
  WriteKubeconfig("http", "");
  // Static settings combine with the API objects: short drain so that tests stop quickly.
  settings_ = TempFile("kube", ".yaml");
  std::ofstream(settings_) << "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\n"
                              "metadata: {name: pdgate}\nspec:\n  threads: 2\n"
                              "  timeouts: {drainDelay: 0s, drain: 2s}\n";
}

void KubeHarness::WriteKubeconfig(const std::string& scheme, const std::string& ca_file) {
  std::ofstream out(kubeconfig_);
  out << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
         "contexts: [{name: test, context: {cluster: fake, user: pdgate}}]\n"
         "clusters: [{name: fake, cluster: {server: \""
      << scheme << "://127.0.0.1:" << api_port_ << "\"";
  if (!ca_file.empty()) out << ", certificate-authority: \"" << ca_file << "\"";
  out << "}}]\nusers: [{name: pdgate, user: {token: " << kToken << "}}]\n";
}

void KubeHarness::UseTls(const std::string& cert, const std::string& key,
                         const std::string& ca_file) {
  tls_cert_ = cert;
  tls_key_ = key;
  WriteKubeconfig("https", ca_file);
}

KubeHarness::~KubeHarness() {
  router_.reset();
  api_.reset();
  sims_.clear();
  std::remove(kubeconfig_.c_str());
  std::remove(settings_.c_str());
}

void KubeHarness::StartApiServer(const std::string& objects_file, int initial_rv) {
  std::vector<std::string> argv = {"python3",
                                   SourcePath("tests/kubernetes/fake_apiserver.py"),
                                   "--port",
                                   std::to_string(api_port_),
                                   "--token",
                                   kToken,
                                   "--watch-max-seconds",
                                   "5",
                                   "--bookmark-seconds",
                                   "1",
                                   "--initial-rv",
                                   std::to_string(initial_rv)};
  if (!objects_file.empty()) {
    argv.push_back("--objects");
    argv.push_back(objects_file);
  }
  if (!tls_cert_.empty()) {
    argv.insert(argv.end(), {"--tls-cert", tls_cert_, "--tls-key", tls_key_});
  }
  auto api = ChildProcess::Start(argv);
  if (!api.ok()) throw std::runtime_error("cannot start fake_apiserver.py");
  api_.emplace(std::move(*api));
  const bool up = tls_cert_.empty()
                      ? WaitForHttpStatus("127.0.0.1", api_port_, "/_control/state", 200, 10s)
                      : WaitForPort("127.0.0.1", api_port_, 10s);
  if (!up) {
    throw std::runtime_error("fake API server did not come up: " + api_->Stderr());
  }
}

void KubeHarness::StartRouter(const std::vector<std::string>& extra_args) {
  // A port FreePort() found free may be taken by a parallel test before pdgate binds it: then
  // pdgate exits at once, and it is started again on other ports.
  for (int attempt = 0;; ++attempt) {
    router_port_ = FreePort();
    admin_port_ = FreePort();
    std::vector<std::string> argv = {BinaryPath("pdgate"),
                                     "--kubeconfig",
                                     kubeconfig_,
                                     "--config",
                                     settings_,
                                     "--port",
                                     std::to_string(router_port_),
                                     "--admin-port",
                                     std::to_string(admin_port_)};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    auto router = ChildProcess::Start(argv);
    if (!router.ok()) throw std::runtime_error("cannot start pdgate");
    router_.emplace(std::move(*router));
    if (WaitForHttpStatus("127.0.0.1", admin_port_, "/healthz", 200, 10s)) return;
    const bool port_taken = router_->Stdout().find("Address already in use") != std::string::npos;
    if (!port_taken || attempt == 2) break;
    router_.reset();
  }
  throw std::runtime_error("pdgate did not come up: " + router_->Stdout() + router_->Stderr());
}

int KubeHarness::Control(const std::string& what, const std::string& body) {
  auto response = HttpRequest("127.0.0.1", api_port_, "POST", "/_control/" + what, body,
                              {{"Content-Type", "application/json"}});
  return response.ok() ? response->status : 0;
}

int KubeHarness::Apply(const std::string& object_json, bool silent) {
  return Control("apply", "{\"silent\":" + std::string(silent ? "true" : "false") +
                              ",\"object\":" + object_json + "}");
}

int KubeHarness::Delete(const std::string& kind, const std::string& name, bool silent) {
  return Control("delete", "{\"kind\":\"" + kind + "\",\"namespace\":\"dev\",\"name\":\"" + name +
                               "\",\"silent\":" + (silent ? "true" : "false") + "}");
}

double KubeHarness::ApiState(const std::string& pointer) {
  auto response = HttpRequest("127.0.0.1", api_port_, "GET", "/_control/state");
  if (!response.ok() || response->status != 200) return -1;
  return JsonNumberAt(response->body, pointer).value_or(-1);
}

std::string KubeHarness::PodJson(const std::string& name, size_t sim, const std::string& app,
                                 bool ready, bool terminating) const {
  // The shape the API server returns, with the fields pdgate does not read.
  return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
         R"(","namespace":"dev","labels":{"app":")" + app + R"("},)" +
         (terminating ? R"("deletionTimestamp":"2025-01-01T00:00:00Z",)" : "") +
         R"("managedFields":[{"manager":"kubelet"}],"ownerReferences":[{"kind":"ReplicaSet"}]},)"
         R"("spec":{"containers":[{"name":"engine","image":"vllm","ports":[{"containerPort":8000}]}]},)"
         R"("status":{"phase":"Running","podIP":")" +
         addresses_[sim] +
         R"(","hostIP":"10.0.0.1","qosClass":"Burstable",)"
         R"("conditions":[{"type":"Initialized","status":"True"},{"type":"Ready","status":")" +
         (ready ? "True" : "False") +
         R"(","lastProbeTime":null}],"containerStatuses":[{"name":"engine","ready":true}]}})";
}

std::string KubeHarness::ServerJson(const std::string& name, const std::string& app,
                                    const std::string& model) const {
  return R"({"apiVersion":"networking.serving.volcano.sh/v1alpha1","kind":"ModelServer",)"
         R"("metadata":{"name":")" +
         name + R"(","namespace":"dev","generation":1},"spec":{"model":")" + model +
         R"(","inferenceEngine":"vLLM","workloadSelector":{"matchLabels":{"app":")" + app +
         R"("}},"workloadPort":{"port":)" + std::to_string(pod_port_) +
         R"(},"trafficPolicy":{"timeout":"5s","retry":{"attempts":2,"retryInterval":"10ms"}}},"status":{}})";
}

std::string KubeHarness::RouteJson(const std::string& name, const std::string& model_name,
                                   const std::string& server) const {
  return R"({"apiVersion":"networking.serving.volcano.sh/v1alpha1","kind":"ModelRoute",)"
         R"("metadata":{"name":")" +
         name + R"(","namespace":"dev"},"spec":{"modelName":")" + model_name +
         R"(","rules":[{"name":"default","targetModels":[{"modelServerName":")" + server +
         R"("}]}]}})";
}

int KubeHarness::Complete(const std::string& model) {
  const std::string body = R"({"model":")" + model + R"(","prompt":"hello","max_tokens":2})";
  auto response = HttpRequest("127.0.0.1", router_port_, "POST", "/v1/completions", body,
                              {{"Content-Type", "application/json"}}, 10s);
  return response.ok() ? response->status : 0;
}

double KubeHarness::Served(size_t sim) {
  auto response = HttpRequest(addresses_[sim], pod_port_, "GET", "/admin/stats");
  if (!response.ok() || response->status != 200) return -1;
  return JsonNumberAt(response->body, "/requests/plain").value_or(-1);
}

}  // namespace pdgate::testing
