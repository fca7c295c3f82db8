// pdgate: the command line. `pdgate --config FILE...` serves; `pdgate validate FILE...` checks.
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config/kubeconfig.h"
#include "config/loader.h"
#include "discovery/endpoint_snapshot.h"
#include "router/observe/build_info.h"
#include "router/observe/config_summary.h"
#include "router/runtime/router_state.h"
#include "router/server/server.h"

namespace {

// Every stream holds two descriptors (client and engine): lift the soft limit to the hard one,
// as most servers do, so 10k streams do not fail on the default 20k (or 1024) soft limit.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::info("open files limit raised from {} to {}", before, limit.rlim_max);
  }
}

using pdgate::config::LoadResult;

void PrintDiagnostics(const LoadResult& result) {
  for (const std::string& warning : result.warnings) std::cerr << "warning: " << warning << "\n";
  for (const std::string& error : result.errors) std::cerr << "error: " << error << "\n";
}

// What the environment contributes to a configuration (Kthena's fairness variables).
const char* GetEnv(const char* name) { return std::getenv(name); }

int Validate(const std::vector<std::string>& files) {
  pdgate::config::SettingsOverrides environment;
  environment.getenv = GetEnv;
  LoadResult result = pdgate::config::LoadConfigFiles(files, environment);
  PrintDiagnostics(result);
  if (!result.errors.empty()) {
    std::cerr << result.errors.size() << " error" << (result.errors.size() == 1 ? "" : "s")
              << "; the configuration is not valid\n";
    return 1;
  }
  auto snapshot = pdgate::discovery::BuildEndpointSnapshot(result.config);
  std::cout << pdgate::router::DescribeConfig(*snapshot);
  return 0;
}

// Kubernetes discovery from the command line: --kubeconfig wins over --kubernetes (in-cluster).
struct KubernetesFlags {
  bool in_cluster = false;
  std::string kubeconfig;
  std::string context;
  std::string namespace_;
  bool enabled() const { return in_cluster || !kubeconfig.empty(); }
};

int Serve(const std::vector<std::string>& files, const pdgate::config::SettingsOverrides& overrides,
          const KubernetesFlags& kube) {
  std::optional<pdgate::discovery::KubeSourceOptions> kubernetes;
  if (kube.enabled()) {
    absl::StatusOr<pdgate::config::KubeEndpoint> endpoint =
        kube.kubeconfig.empty() ? pdgate::config::InClusterEndpoint(&std::getenv)
                                : pdgate::config::LoadKubeconfig(kube.kubeconfig, kube.context);
    if (!endpoint.ok()) {
      std::cerr << "pdgate: kubernetes: " << endpoint.status().message() << "\n";
      return 1;
    }
    kubernetes.emplace();
    kubernetes->namespace_ = kube.namespace_;
    spdlog::info(
        "kubernetes: API server {}://{}:{}, {}", endpoint->tls ? "https" : "http", endpoint->host,
        endpoint->port,
        kube.namespace_.empty() ? std::string("all namespaces") : "namespace " + kube.namespace_);
    kubernetes->endpoint = std::move(*endpoint);
  }
  spdlog::info("pdgate {} (simdjson kernel {})", pdgate::router::Version(),
               pdgate::router::SimdjsonKernel());
  LoadResult result = pdgate::config::LoadConfigFiles(files, overrides);
  PrintDiagnostics(result);
  if (!result.errors.empty()) return 1;
  RaiseFileLimit();
  auto state = pdgate::router::MakeRouterState(result.config);
  std::cout << pdgate::router::DescribeConfig(*state->endpoints) << std::flush;
  return pdgate::router::RunServer(std::move(state), {files, overrides, std::move(kubernetes)});
}

}  // namespace

int Main(int argc, char** argv);

int main(int argc, char** argv) {
  // Errors are values inside pdgate; this only keeps a library's unexpected throw (CLI11, spdlog,
  // std::bad_alloc) from ending the process without a word.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pdgate: fatal: %s\n", e.what());
    return 1;
  }
}

int Main(int argc, char** argv) {
  CLI::App app{
      "pdgate: an HTTP router for prefill/decode-disaggregated LLM engines (vLLM, SGLang),\n"
      "configured with Volcano Kthena's ModelServer and ModelRoute resources."};
  app.set_version_flag("--version", std::string(pdgate::router::Version()));

  std::vector<std::string> config_files;
  uint16_t port = 0, admin_port = 0;
  int threads = -1;
  app.add_option("-c,--config", config_files,
                 "YAML file of ModelServer, ModelRoute, Pod and RouterConfiguration documents "
                 "(repeatable)")
      ->check(CLI::ExistingFile);
  app.add_option("--port", port, "API port (default 8080, or listen.port)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--admin-port", admin_port,
                 "admin port: /metrics, /healthz, /readyz (default 9090)")
      ->check(CLI::Range(1, 65535));
  app.add_option("--threads", threads, "io threads (default: one per core)")
      ->check(CLI::Range(0, 256));

  KubernetesFlags kube;
  app.add_flag("--kubernetes", kube.in_cluster,
               "discover ModelServers, ModelRoutes and Pods from the Kubernetes API server, with "
               "the pod's service account (in a cluster); --config files still give settings");
  app.add_option("--kubeconfig", kube.kubeconfig,
                 "as --kubernetes, with the API server and credentials of this kubeconfig file")
      ->check(CLI::ExistingFile);
  app.add_option("--context", kube.context, "kubeconfig context (default: current-context)");
  app.add_option("--namespace", kube.namespace_,
                 "with --kubernetes/--kubeconfig: watch only this namespace (default: all)");

  std::vector<std::string> validate_files;
  CLI::App* validate =
      app.add_subcommand("validate", "Check configuration files and print what they define");
  validate->add_option("files", validate_files, "YAML files")->required()->check(CLI::ExistingFile);

  CLI11_PARSE(app, argc, argv);

  if (*validate) return Validate(validate_files);
  if (config_files.empty() && !kube.enabled()) {
    std::cerr << "pdgate: --config FILE is required (or --kubernetes, --kubeconfig FILE); "
                 "`pdgate validate FILE...` checks files; see --help\n";
    return 2;
  }
  pdgate::config::SettingsOverrides overrides;
  if (port != 0) overrides.port = port;
  if (admin_port != 0) overrides.admin_port = admin_port;
  if (threads >= 0) overrides.threads = threads;
  overrides.getenv = GetEnv;
  return Serve(config_files, overrides, kube);
}
