// The pdgate command line, run as a process the way users run it.
#include <catch2/catch.hpp>
#include <fstream>

#include "router/observe/config_summary.h"
#include "tests/support/child_process.h"
#include "tests/support/paths.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

CommandResult Run(const std::vector<std::string>& argv) {
  auto result = RunCommand(argv, 20s);
  REQUIRE(result.ok());
  return *result;
}

std::string WriteTemp(const std::string& text) {
  std::string path = std::string(std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") +
                     "/pdgate-cli-test-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("pdgate validate summarises the Kthena PD example") {
  CommandResult result =
      Run({BinaryPath("pdgate"), "validate", SourcePath("examples/kthena-pd/kthena-pd.yaml"),
           SourcePath("examples/kthena-pd/pods.yaml")});
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.err.empty());
  CHECK(result.out.find("1 ModelServer, 1 ModelRoute, 2 Pods, 2 serving endpoints, 1 PD group\n") ==
        0);
  CHECK(result.out.find("  PD group deepseek-v2-lite-0: 1 prefill, 1 decode\n"
                        "    prefill dev/deepseek-v2-lite-0-prefill-0 127.0.0.11:8000\n"
                        "    decode  dev/deepseek-v2-lite-0-decode-0 127.0.0.12:8000\n") !=
        std::string::npos);
  CHECK(result.out.find("kvConnector nixl, timeout 10s") != std::string::npos);
}

TEST_CASE("pdgate validate reports the authentication setup, never a key") {
  CommandResult kthena =
      Run({BinaryPath("pdgate"), "validate", SourcePath("examples/auth/kthena-router-config.yaml"),
           SourcePath("examples/kthena-pd/kthena-pd.yaml"),
           SourcePath("examples/kthena-pd/pods.yaml")});
  INFO(kthena.err);
  CHECK(kthena.exit_code == 0);
  CHECK(kthena.out.find("Auth: on for /v1/*\n  JWT: issuer https://idp.example.com, audiences "
                        "kthena-router, JWKS https://idp.example.com/.well-known/jwks.json every "
                        "1h, leeway 1m, tenant claim tenant\n") != std::string::npos);
  CommandResult keys =
      Run({BinaryPath("pdgate"), "validate", SourcePath("examples/auth/api-keys.yaml"),
           SourcePath("examples/kthena-pd/kthena-pd.yaml"),
           SourcePath("examples/kthena-pd/pods.yaml")});
  INFO(keys.out << keys.err);
  CHECK(keys.exit_code == 0);
  CHECK(keys.out.find("  API keys: 2 keys: team-a-ci, team-b\n") != std::string::npos);
  CHECK(keys.out.find("b286d5c0") == std::string::npos);
  CommandResult off =
      Run({BinaryPath("pdgate"), "validate", SourcePath("examples/kthena-pd/kthena-pd.yaml")});
  CHECK(off.out.find("Auth: off (every /v1/* request is served)\n") != std::string::npos);
}

TEST_CASE("pdgate validate prints the rate limits") {
  std::string path = WriteTemp(R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: r, namespace: dev}
spec:
  modelName: m
  rules: [{targetModels: [{modelServerName: s}]}]
  rateLimit: {inputTokensPerUnit: 1000, outputTokensPerUnit: 50, unit: minute,
              global: {redis: {address: "redis:6379"}}}
---
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: p}
spec:
  rateLimits:
    - {name: per-user, requestsPerUnit: 60, unit: minute}
    - {name: per-team, key: tenant, inputTokensPerUnit: 9000, unit: hour,
       global: {redis: {address: "redis.infra:6380"}}}
)");
  CommandResult result = Run({BinaryPath("pdgate"), "validate", path});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("Rate limits:\n  route dev/r: 1000 input, 50 output tokens per minute, "
                        "global in Redis redis:6379\n  limit per-user: 60 requests per minute "
                        "for each user, per replica\n  limit per-team: 9000 input tokens per "
                        "hour for each tenant, global in Redis redis.infra:6380\n") !=
        std::string::npos);
}

TEST_CASE("pdgate validate prints every error and exits 1") {
  std::string path = WriteTemp(R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: s, namespace: dev}
spec:
  inferenceEngine: TGI
  workloadSelector: {matchLabels: {}}
  workloadPort: {port: 0}
)");
  CommandResult result = Run({BinaryPath("pdgate"), "validate", path});
  CHECK(result.exit_code == 1);
  CHECK(result.out.empty());
  const std::string prefix = "error: " + path + ": document 1 (ModelServer dev/s): ";
  CHECK(result.err.find(prefix +
                        "spec.inferenceEngine: must be \"vLLM\" or \"SGLang\", not \"TGI\"\n") !=
        std::string::npos);
  CHECK(
      result.err.find(prefix + "spec.workloadSelector.matchLabels: must have at least 1 label\n") !=
      std::string::npos);
  CHECK(result.err.find(prefix + "spec.workloadPort.port: must be between 1 and 65535, not 0\n") !=
        std::string::npos);
  CHECK(result.err.find("3 errors; the configuration is not valid") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("pdgate --version and --help") {
  CommandResult version = Run({BinaryPath("pdgate"), "--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out == std::string(PDGATE_VERSION) + "\n");
  CommandResult help = Run({BinaryPath("pdgate"), "--help"});
  CHECK(help.exit_code == 0);
  for (const char* flag : {"--config", "--port", "--admin-port", "--threads", "validate"}) {
    CHECK(help.out.find(flag) != std::string::npos);
  }
}

TEST_CASE("pdgate without --config explains what it needs") {
  CommandResult result = Run({BinaryPath("pdgate")});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("--config FILE is required") != std::string::npos);
}

TEST_CASE("the simulator and the load generator binaries exist and answer --help") {
  for (const char* binary : {"pdgate-engine-sim", "pdgate-bench"}) {
    CommandResult result = Run({BinaryPath(binary), "--help"});
    INFO(binary);
    CHECK(result.exit_code == 0);
    CHECK(result.out.find(binary) != std::string::npos);
  }
}

TEST_CASE("durations print the way Kubernetes writes them") {
  CHECK(pdgate::router::FormatDuration(10s) == "10s");
  CHECK(pdgate::router::FormatDuration(90s) == "1m30s");
  CHECK(pdgate::router::FormatDuration(250ms) == "250ms");
}
