// Positive loads: the Kthena PD example unchanged, defaults, lists, settings documents.
#include "config/loader.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/config/config_test_util.h"
#include "tests/support/paths.h"

using namespace pdgate;
using namespace pdgate::testing;
using namespace std::chrono_literals;

TEST_CASE("the Kthena PD guide's manifests load unchanged with their pods") {
  config::LoadResult result =
      config::LoadConfigFiles({SourcePath("examples/kthena-pd/kthena-pd.yaml"),
                               SourcePath("examples/kthena-pd/pods.yaml")});
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  CHECK(result.warnings.empty());
  const config::Config& c = *result.config;
  REQUIRE(c.model_servers.size() == 1);
  const config::ModelServer& server = c.model_servers[0];
  CHECK(server.meta.Key() == "dev/deepseek-v2");
  CHECK(server.model == "deepseek-ai/DeepSeekV2");
  CHECK(server.engine == config::InferenceEngine::kVllm);
  CHECK(server.kv_connector == config::KvConnector::kNixl);
  CHECK(server.port == 8000);
  CHECK(server.timeout == std::chrono::nanoseconds(10s));
  REQUIRE(server.pd_group);
  CHECK(server.pd_group->group_key == "modelserving.volcano.sh/group-name");
  CHECK(server.pd_group->prefill_labels.at("modelserving.volcano.sh/role") == "prefill");
  CHECK(server.pd_group->decode_labels.at("modelserving.volcano.sh/role") == "decode");
  REQUIRE(c.model_routes.size() == 1);
  CHECK(c.model_routes[0].model_name == "deepseek-ai/DeepSeekV2");
  REQUIRE(c.model_routes[0].rules.size() == 1);
  CHECK(c.model_routes[0].rules[0].name == "default");
  CHECK(c.model_routes[0].rules[0].targets[0].model_server_name == "deepseek-v2");
  CHECK(c.model_routes[0].rules[0].total_weight == 1);
  REQUIRE(c.pods.size() == 2);
  CHECK(c.pods[0].pod_ip == "127.0.0.11");
  CHECK(c.pods[0].Serving());
  // Every setting has a default.
  CHECK(c.settings.listen.port == 8080);
  CHECK(c.settings.limits.max_request_body_bytes == 16u << 20);
  // pdgate's default scorers (not Kthena chart's four: docs/CONFIGURATION.md says why).
  REQUIRE(c.settings.scheduler.scores.size() == 3);
  CHECK(c.settings.scheduler.scores[0].name == "least-request");
  CHECK(c.settings.scheduler.scores[1].name == "prefix-cache");
  CHECK(c.settings.scheduler.scores[2].name == "gpu-usage");
}

TEST_CASE("defaults: connector by engine, retry, namespace") {
  std::string yaml = R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: s}
spec:
  inferenceEngine: SGLang
  workloadSelector: {matchLabels: {app: x}}
  workloadPort: {port: 30000}
)";
  auto result = LoadYaml(yaml);
  REQUIRE(result.errors.empty());
  const auto& server = result.config->model_servers[0];
  CHECK(server.meta.namespace_ == "default");
  CHECK(server.kv_connector == config::KvConnector::kSglang);
  CHECK_FALSE(server.disaggregated());
  CHECK_FALSE(server.timeout.has_value());
  CHECK(server.retry.attempts == 2);
  CHECK(server.retry.interval == std::chrono::nanoseconds(100ms));

  auto vllm = LoadYaml(std::string(kServerYaml)
                           .replace(std::string(kServerYaml).find("    type: nixl"), 14, "    {}"));
  // kvConnector without type on a vLLM server: http, as Kthena.
  INFO(StrJoin(vllm.errors, "\n"));
  REQUIRE(vllm.errors.empty());
  CHECK(vllm.config->model_servers[0].kv_connector == config::KvConnector::kHttp);
}

TEST_CASE("durations follow Go's syntax") {
  for (auto [text, expected] : std::vector<std::pair<std::string, std::chrono::nanoseconds>>{
           {"100ms", 100ms}, {"1m", 60s}, {"1m30s", 90s}, {"1.5s", 1500ms}, {"2h", 7200s}}) {
    std::string yaml = std::string(kServerYaml);
    yaml.replace(yaml.find("10s"), 3, text);
    auto result = LoadYaml(yaml);
    INFO(text);
    REQUIRE(result.errors.empty());
    CHECK(result.config->model_servers[0].timeout == expected);
  }
}

TEST_CASE("unknown fields warn with their path and do not fail") {
  std::string yaml = std::string(kServerYaml) + "  futureField: 1\n";
  auto result = LoadYaml(yaml);
  CHECK(result.errors.empty());
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0] ==
        "pd.yaml: document 1 (ModelServer dev/deepseek-v2): spec.futureField: unknown field, "
        "ignored");
}

TEST_CASE("a PodList, a List and other kinds") {
  std::string yaml = R"(apiVersion: v1
kind: PodList
items:
  - metadata: {name: p1, namespace: dev, labels: {app: ds}}
    status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: p2, namespace: dev, deletionTimestamp: "2026-01-01T00:00:00Z"}
    status: {phase: Running, podIP: 10.0.0.2, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: engine}
)";
  auto result = LoadYaml(yaml);
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  REQUIRE(result.config->pods.size() == 2);
  CHECK(result.config->pods[0].Serving());
  CHECK(result.config->pods[1].NotServingReason() == "terminating");
  REQUIRE(result.warnings.size() == 1);
  CHECK(result.warnings[0] ==
        "pd.yaml: document 3: kind: apps/v1 Deployment is not used by pdgate; skipped");
}

TEST_CASE("a ConfigMap that is not Kthena's router configuration is skipped, data or not") {
  // Found by fuzzing: a ConfigMap without `data` threw out of the loader.
  auto result = LoadYaml(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n---\n"
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: another}\n"
      "data: {key: value}\n");
  INFO(StrJoin(result.errors, "\n"));
  CHECK(result.errors.empty());
  REQUIRE(result.warnings.size() == 2);
  CHECK(result.warnings[0] ==
        "pd.yaml: document 1: kind: v1 ConfigMap is not used by pdgate; skipped");
}

TEST_CASE("a Ready condition without a status is not ready, and not an error") {
  // Found by fuzzing: the missing `status` threw out of the loader.
  auto result = LoadYaml(
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: dev, labels: {app: ds}}\n"
      "status: {phase: Running, podIP: 10.0.0.1, conditions: [{type: Ready}]}\n");
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  REQUIRE(result.config->pods.size() == 1);
  CHECK(result.config->pods[0].NotServingReason() == "not Ready");
}

TEST_CASE("pods serve only when Running, Ready, not terminating and with an IP") {
  auto result = LoadYaml(Pod("a", "    app: ds", "10.0.0.1") + "---\n" +
                         Pod("b", "    app: ds", "10.0.0.2", "Pending") + "---\n" +
                         Pod("c", "    app: ds", "10.0.0.3", "Running", "False"));
  REQUIRE(result.errors.empty());
  CHECK(result.config->pods[0].Serving());
  CHECK(result.config->pods[1].NotServingReason() == "not Running");
  CHECK(result.config->pods[2].NotServingReason() == "not Ready");
}

TEST_CASE("pdgate's RouterConfiguration sets listeners, limits, timeouts and Kthena's scheduler") {
  std::string yaml = R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: pdgate}
spec:
  listen: {port: 18080, adminPort: 19090}
  threads: 3
  limits: {maxRequestBodyBytes: 1048576}
  timeouts: {streamIdle: 2m, drainDelay: 0s}
  scheduler:
    pluginConfig:
      - name: least-request
        args: {maxWaitingRequests: 5}
      - name: least-latency
        args: {TTFTTPOTWeightFactor: 0.3}
      - name: prefix-cache
        args: {blockSizeToHash: 32, maxBlocksToMatch: 64, maxHashCacheSize: 1000, topKMatches: 3,
               engineCacheTokens: 65536}
    plugins:
      Filter:
        enabled: [least-request]
        disabled: [lora-affinity]
      Score:
        enabled:
          - name: prefix-cache
            weight: 3
          - name: least-request
            weight: 1
)";
  auto result = LoadYaml(yaml, "router.yaml");
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  CHECK(result.warnings.empty());
  const auto& s = result.config->settings;
  CHECK(s.listen.port == 18080);
  CHECK(s.listen.admin_port == 19090);
  CHECK(s.threads == 3);
  CHECK(s.limits.max_request_body_bytes == 1048576);
  CHECK(s.timeouts.stream_idle == 120s);
  CHECK(s.timeouts.drain_delay == 0s);
  CHECK(s.scheduler.max_waiting_requests == 5);
  CHECK(s.scheduler.ttft_tpot_weight_factor == Approx(0.3));
  CHECK(s.scheduler.prefix_cache.block_size_to_hash == 32);
  CHECK(s.scheduler.prefix_cache.top_k_matches == 3);
  CHECK(s.scheduler.prefix_cache.engine_cache_tokens == 65536);
  REQUIRE(s.scheduler.scores.size() == 2);
  CHECK(s.scheduler.scores[0].name == "prefix-cache");
  CHECK(s.scheduler.scores[0].weight == 3);
  CHECK(s.scheduler.filters == std::vector<std::string>{"least-request"});
  CHECK(s.source == "router.yaml: document 1");
}

TEST_CASE("Kthena's router ConfigMap is read as it is applied") {
  std::string yaml = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: kthena-router-config, namespace: kthena-system}
data:
  routerConfiguration: |-
    scheduler:
      pluginConfig:
      - name: least-request
        args:
          maxWaitingRequests: 10
      - name: least-latency
        args:
          TTFTTPOTWeightFactor: 0.5
      - name: prefix-cache
        args:
          blockSizeToHash: 64
          maxBlocksToMatch: 128
          maxHashCacheSize: 50000
          topKMatches: 5
      plugins:
        Filter:
          enabled:
            - least-request
          disabled:
            - lora-affinity
        Score:
          enabled:
            - name: least-request
              weight: 1
            - name: gpu-usage
              weight: 1
            - name: least-latency
              weight: 1
            - name: prefix-cache
              weight: 1
)";
  auto result = LoadYaml(yaml);
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  CHECK(result.warnings.empty());
  CHECK(result.config->settings.scheduler.scores.size() == 4);
  CHECK(result.config->settings.scheduler.max_waiting_requests == 10);
}

TEST_CASE("command-line overrides win over the files") {
  config::ConfigLoader loader;
  loader.AddYaml("x.yaml", kServerYaml);
  config::SettingsOverrides overrides;
  overrides.port = 9999;
  overrides.threads = 1;
  auto result = loader.Finish(overrides);
  REQUIRE(result.errors.empty());
  CHECK(result.config->settings.listen.port == 9999);
  CHECK(result.config->settings.threads == 1);
}

TEST_CASE("upstream Authorization: forward by default, strip, or a secret from the environment") {
  auto with_annotation = [](const std::string& value) {
    return Replace(kServerYaml, "  namespace: dev\n",
                   "  namespace: dev\n  annotations:\n    pdgate.io/upstream-authorization: \"" +
                       value + "\"\n");
  };
  auto plain = LoadYaml(kServerYaml);
  REQUIRE(plain.errors.empty());
  CHECK(plain.config->model_servers[0].upstream_authorization ==
        config::UpstreamAuthorization::kAuto);
  auto strip = LoadYaml(with_annotation("strip"));
  REQUIRE(strip.errors.empty());
  CHECK(strip.config->model_servers[0].upstream_authorization ==
        config::UpstreamAuthorization::kStrip);
  setenv("PDGATE_TEST_ENGINE_KEY", "sk-engine", 1);
  auto replace = LoadYaml(with_annotation("secret-env:PDGATE_TEST_ENGINE_KEY"));
  REQUIRE(replace.errors.empty());
  CHECK(replace.config->model_servers[0].upstream_authorization ==
        config::UpstreamAuthorization::kReplace);
  CHECK(replace.config->model_servers[0].upstream_authorization_value == "Bearer sk-engine");
}

TEST_CASE("access log settings") {
  auto result = LoadYaml(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  accessLog: {enabled: false, format: text, output: /var/log/pdgate.log}
)");
  REQUIRE(result.errors.empty());
  const auto& log = result.config->settings.access_log;
  CHECK_FALSE(log.enabled);
  CHECK_FALSE(log.json);
  CHECK(log.output == "/var/log/pdgate.log");
  auto defaults = LoadYaml(kServerYaml);
  CHECK(defaults.config->settings.access_log.enabled);
  CHECK(defaults.config->settings.access_log.json);
  CHECK(defaults.config->settings.access_log.output == "stdout");
}

TEST_CASE("auth: Kthena's ConfigMap section turns JWT on, defaults as documented") {
  auto result = LoadYaml(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kthena-router-config}\ndata:\n"
      "  routerConfiguration: |\n"
      "    auth:\n      issuer: https://idp.example.com\n      audiences: [kthena]\n"
      "      jwksUri: https://idp.example.com/jwks.json\n");
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  const config::AuthSettings& auth = result.config->settings.auth;
  CHECK(auth.jwt_enabled());
  CHECK_FALSE(auth.api_keys_enabled());
  CHECK(auth.issuer == "https://idp.example.com");
  CHECK(auth.audiences == std::vector<std::string>{"kthena"});
  CHECK(auth.jwks_uri == "https://idp.example.com/jwks.json");
  CHECK(auth.leeway == std::chrono::seconds(60));
  CHECK(auth.jwks_refresh_interval == std::chrono::hours(1));
  CHECK(auth.max_token_bytes == 8192);
  CHECK_FALSE(auth.forward_credential);

  auto off = LoadYaml(kServerYaml);
  CHECK_FALSE(off.config->settings.auth.enabled());
}

TEST_CASE("auth: API keys inline and from a file, hashed at load") {
  const std::string file = "/tmp/pdgate-loader-test-keys.yaml";
  {
    std::ofstream out(file);
    out << "apiKeys:\n  - id: from-file\n    key: sk-from-file-0123456789\n    tenant: t2\n";
  }
  // SHA-256("sk-inline-0123456789") computed independently (sha256sum).
  auto result = LoadYaml(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  auth:
    apiKeys:
      - id: ci
        sha256: f8fe286dcbbcd59081b8c45e3396c6c790847891df18433f90a6f56870d43c08
        user: ci-bot
        tenant: team-a
        models: [a, b]
        priorityClass: high
    apiKeysFile: /tmp/pdgate-loader-test-keys.yaml
)");
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  const config::AuthSettings& auth = result.config->settings.auth;
  CHECK(auth.api_keys_enabled());
  CHECK_FALSE(auth.jwt_enabled());
  REQUIRE(auth.api_keys.size() == 2);
  CHECK(auth.api_keys[0].id == "ci");
  CHECK(auth.api_keys[0].user == "ci-bot");
  CHECK(auth.api_keys[0].tenant == "team-a");
  CHECK(auth.api_keys[0].models == std::vector<std::string>{"a", "b"});
  CHECK(auth.api_keys[0].priority_class == "high");
  CHECK(auth.api_keys[0].sha256[0] == 0xf8);
  CHECK(auth.api_keys[0].sha256[31] == 0x08);
  CHECK(auth.api_keys[1].id == "from-file");
  CHECK(auth.api_keys[1].user == "from-file");  // the id when no user is given
  CHECK(auth.api_keys[1].tenant == "t2");
  // The plaintext key was hashed: SHA-256("sk-from-file-0123456789") from sha256sum.
  CHECK(auth.api_keys[1].sha256[0] == 0x1a);
  CHECK(auth.api_keys[1].sha256[1] == 0xe3);
  CHECK(auth.api_keys[1].sha256[31] == 0x97);
  std::remove(file.c_str());
}
