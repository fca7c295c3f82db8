// The approximate prefix index sized by the engines' own caches, end to end: pdgate reads each
// simulator's vllm:cache_config_info (or SGLang's max_total_num_tokens) and prompt token counter,
// sizes the endpoint's share of the index to what the engine holds, and a new prefix goes to the
// engine that has room rather than evicting another prefix's blocks.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

// prefix-cache alone (plus the tie-break): the index and its sizes decide. Scrapes every 100 ms.
const char* kCapacitySettings =
    "  metricsScrape: {interval: 100ms}\n"
    "  scheduler:\n"
    "    plugins:\n"
    "      Filter: {enabled: []}\n"
    "      Score: {enabled: [{name: prefix-cache, weight: 1}]}\n";

// Two engines with 64 blocks × 16 tokens of KV cache: 1,024 tokens, about two of the prompts
// below each.
ClusterSpec TwoSmallEngines(const std::string& engine) {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.engine = engine;
  spec.extra_settings = kCapacitySettings;
  for (int i = 0; i < 2; ++i) spec.pods.push_back({"", "", {"--kv-blocks", "64"}});
  return spec;
}

// pdgate_prefix_index_endpoint_blocks of pod `pod` (its ModelServer pod name ends in the index)
// and `kind`, or -1 when absent.
double IndexBlocks(const std::string& metrics, size_t pod, const std::string& kind) {
  const std::string name = "pdgate_prefix_index_endpoint_blocks{";
  for (size_t at = metrics.find(name); at != std::string::npos; at = metrics.find(name, at + 1)) {
    const size_t end = metrics.find('\n', at);
    const std::string line = metrics.substr(at, end - at);
    if (line.find("kind=\"" + kind + "\"") == std::string::npos) continue;
    if (line.find("-" + std::to_string(pod) + "\"") == std::string::npos) continue;
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

// About 1,400 bytes of system prompt per topic (some 400 simulator tokens).
std::string Chat(int topic, int question) {
  std::string system = "You are assistant number " + std::to_string(topic) + ".";
  for (int i = 0; i < 60; ++i) system += " rule " + std::to_string(topic * 1000 + i) + " holds";
  return std::string(R"({"model":")") + kModel + R"(","max_tokens":2,"messages":[)" +
         R"({"role":"system","content":")" + system + R"("},)" +
         R"({"role":"user","content":"Question )" + std::to_string(question) + R"(?"}]})";
}

void RunSizedByEngine(const std::string& engine) {
  Cluster cluster(TwoSmallEngines(engine));
  // Each engine's size reaches the index: 1,024 tokens at 4 bytes per token (no ratio measured
  // yet) in 64-byte blocks.
  REQUIRE(Eventually(
      [&] {
        const std::string metrics = Metrics(cluster);
        return IndexBlocks(metrics, 0, "capacity") == 64 &&
               IndexBlocks(metrics, 1, "capacity") == 64;
      },
      10s));
  // Enough prompts that the router's bytes meet the engines' token counters: the measured ratio
  // replaces the default, and the index never holds more than the engine's cache for anyone.
  for (int request = 0; request < 24; ++request) {
    auto response = cluster.Post("/v1/chat/completions", Chat(request % 6, request));
    REQUIRE(response.ok());
    REQUIRE(response->status == 200);
    const std::string metrics = Metrics(cluster);
    for (size_t pod = 0; pod < 2; ++pod) {
      const double capacity = IndexBlocks(metrics, pod, "capacity");
      INFO("pod " << pod << " request " << request);
      CHECK(IndexBlocks(metrics, pod, "held") <= capacity);
    }
  }
  // The simulator's tokens average under 4 bytes, so the measured capacity comes out lower than
  // the default's 64 blocks (and the index forgets accordingly).
  REQUIRE(Eventually(
      [&] {
        const std::string metrics = Metrics(cluster);
        const double capacity = IndexBlocks(metrics, 0, "capacity");
        return capacity > 20 && capacity < 64;
      },
      10s));
}

}  // namespace

TEST_CASE("prefix index sized by vLLM engines' cache_config_info and prompt token counts") {
  RunSizedByEngine("vLLM");
}

TEST_CASE("prefix index sized by SGLang engines' max_total_num_tokens") {
  RunSizedByEngine("SGLang");
}
