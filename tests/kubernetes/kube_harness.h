#pragma once
// Live Kubernetes discovery end to end: the fake API server (fake_apiserver.py), engine
// simulators on distinct loopback addresses (one per "pod", all on one port), and pdgate started
// with --kubeconfig pointing at the fake server with a bearer token. The test changes objects
// through the fake server's control endpoints and watches routing follow. Everything stops when
// the harness goes out of scope.
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/net.h"

namespace pdgate::testing {

inline constexpr const char* kKubeModel = "kube-model";

class KubeHarness {
 public:
  // `sims` engine simulators (role "both"); pdgate is started by StartRouter().
  explicit KubeHarness(size_t sims);
  ~KubeHarness();

  void StartApiServer(const std::string& extra_json_objects_file = "", int initial_rv = 100);
  // Serve the API over HTTPS with this certificate; pdgate trusts `ca_file`.
  void UseTls(const std::string& cert, const std::string& key, const std::string& ca_file);
  void StopApiServer() { api_.reset(); }
  void StartRouter(const std::vector<std::string>& extra_args = {});

  // POST /_control/<what> with a JSON body; the response status.
  int Control(const std::string& what, const std::string& body);
  int Apply(const std::string& object_json, bool silent = false);
  int Delete(const std::string& kind, const std::string& name, bool silent = false);
  // A count from GET /_control/state ("/counts/list/pods").
  double ApiState(const std::string& pointer);

  // Objects in namespace "dev". Pods select by `app` label; sim i has address pod_address(i).
  std::string PodJson(const std::string& name, size_t sim, const std::string& app, bool ready,
                      bool terminating = false) const;
  std::string ServerJson(const std::string& name, const std::string& app,
                         const std::string& model = kKubeModel) const;
  std::string RouteJson(const std::string& name, const std::string& model_name,
                        const std::string& server) const;

  // POST /v1/completions for `model`; the status (0: no answer).
  int Complete(const std::string& model = kKubeModel);
  // Plain (aggregated) requests sim i has served.
  double Served(size_t sim);

  uint16_t admin_port() const { return admin_port_; }
  uint16_t api_port() const { return api_port_; }
  ChildProcess& router() { return *router_; }
  const std::string& kubeconfig() const { return kubeconfig_; }

 private:
  void WriteKubeconfig(const std::string& scheme, const std::string& ca_file);

  std::vector<std::string> addresses_;
  uint16_t pod_port_ = 0;
  uint16_t api_port_ = 0;
  uint16_t router_port_ = 0;
  uint16_t admin_port_ = 0;
  std::string kubeconfig_;
  std::string settings_;
  std::string tls_cert_;
  std::string tls_key_;
  std::vector<ChildProcess> sims_;
  std::optional<ChildProcess> api_;
  std::optional<ChildProcess> router_;
};


}  // namespace pdgate::testing
