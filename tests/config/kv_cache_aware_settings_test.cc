// Kthena's kvcache-aware score plugin: its args as Kthena's ConfigMap writes them, pdgate's own
// (where the engines publish KV events), and the errors.
#include <catch2/catch.hpp>

#include "tests/config/config_test_util.h"
#include "tests/config/loader_errors_util.h"

using namespace pdgate;
using namespace pdgate::testing;
using namespace std::chrono_literals;

TEST_CASE("kvcache-aware is enabled with Kthena's args, and pdgate's event source") {
  std::string yaml = R"(apiVersion: v1
kind: ConfigMap
metadata: {name: kthena-router-config, namespace: kthena-system}
data:
  routerConfiguration: |-
    scheduler:
      pluginConfig:
      - name: kvcache-aware
        args:
          blockSizeToHash: 32
          maxBlocksToMatch: 64
          vllmTokenizerPort: 8000
          sglangTokenizerPort: 30000
          kvEventsPort: 5600
          kvEventsReplayPort: 5601
          kvEventsTopic: "kv@"
          maxIndexedBlocks: 2000
          tokenizeTimeout: 250ms
          tokenizeCacheSize: 10
          dataParallelSize: 4
      plugins:
        Score:
          enabled:
            - name: kvcache-aware
              weight: 2
            - name: least-request
              weight: 1
)";
  auto result = LoadYaml(yaml);
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  CHECK(result.warnings.empty());
  const config::SchedulerSettings& s = result.config->settings.scheduler;
  CHECK(s.kv_cache_aware_enabled());
  REQUIRE(s.scores.size() == 2);
  CHECK(s.scores[0].name == "kvcache-aware");
  CHECK(s.scores[0].weight == 2);
  const config::KvCacheAwareArgs& kv = s.kv_cache_aware;
  CHECK(kv.block_size_to_hash == 32);
  CHECK(kv.max_blocks_to_match == 64);
  CHECK(kv.vllm_tokenizer_port == 8000);
  CHECK(kv.sglang_tokenizer_port == 30000);
  CHECK(kv.events_port == 5600);
  CHECK(kv.replay_port == 5601);
  CHECK(kv.topic == "kv@");
  CHECK(kv.max_indexed_blocks == 2000);
  CHECK(kv.tokenize_timeout == 250ms);
  CHECK(kv.tokenize_cache_entries == 10);
  CHECK(kv.data_parallel_size == 4);
}

TEST_CASE("kvcache-aware's defaults: vLLM's events port, the endpoint's own port for /tokenize") {
  const config::SchedulerSettings defaults;
  CHECK_FALSE(defaults.kv_cache_aware_enabled());
  CHECK(defaults.kv_cache_aware.block_size_to_hash == 16);
  CHECK(defaults.kv_cache_aware.max_blocks_to_match == 128);
  CHECK(defaults.kv_cache_aware.events_port == 5557);
  CHECK(defaults.kv_cache_aware.replay_port == 0);
  CHECK(defaults.kv_cache_aware.vllm_tokenizer_port == 0);
  CHECK(defaults.kv_cache_aware.data_parallel_size == 1);
}

TEST_CASE("rejects: a kvcache-aware events port out of range") {
  ExpectError(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  scheduler:
    pluginConfig:
      - name: kvcache-aware
        args: {kvEventsPort: 70000}
)",
              "pd.yaml: document 1 (RouterConfiguration default/r): "
              "spec.scheduler.pluginConfig[0].args.kvEventsPort: must be between 1 and 65535, not 70000");
}

TEST_CASE("rejects: data-parallel ranks whose ports would run past 65535") {
  ExpectError(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  scheduler:
    pluginConfig:
      - name: kvcache-aware
        args: {kvEventsPort: 65534, dataParallelSize: 4}
)",
              "pd.yaml: document 1 (RouterConfiguration default/r): "
              "spec.scheduler.pluginConfig[0].args.dataParallelSize: the events ports + "
              "dataParallelSize - 1 must stay below 65536");
}
