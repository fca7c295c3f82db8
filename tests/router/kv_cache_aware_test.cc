// kvcache-aware end to end: engine simulators publish KV events as vLLM does (ZMQ, msgpack, in
// both encodings, with replay), pdgate subscribes, tokenizes prompts with the engines' /tokenize
// and routes a prompt to the engine that holds its prefix, even when a client serializes the same
// messages differently (which the approximate, byte-hashing index cannot follow).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

// Only kvcache-aware scores (plus the random tie-break), so the events alone decide.
const char* kKvAwareSettings =
    "  scheduler:\n"
    "    pluginConfig:\n"
    "      - name: kvcache-aware\n"
    "        args: {blockSizeToHash: 16, kvEventsPort: {kv_events_port}, "
    "kvEventsReplayPort: {kv_replay_port}, tokenizeTimeout: 2s}\n"
    "    plugins:\n"
    "      Filter: {enabled: []}\n"
    "      Score: {enabled: [{name: kvcache-aware, weight: 1}]}\n";

ClusterSpec ThreeEngines(const std::string& encoding) {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.kv_events = encoding;
  spec.extra_settings = kKvAwareSettings;
  for (int i = 0; i < 3; ++i) spec.pods.push_back({"", "", {}});
  return spec;
}

// pdgate follows every engine's publisher, and every engine has its subscription (a SUB that has
// only connected may still miss the first batches: ZMQ's slow joiner).
bool Following(Cluster& cluster) {
  return Eventually(
      [&] {
        if (MetricValue(Metrics(cluster), "pdgate_kv_event_publishers") != 3) return false;
        for (size_t pod = 0; pod < 3; ++pod) {
          if (cluster.Stat(pod, "/kv_event_subscriptions") < 1) return false;
        }
        return true;
      },
      10s);
}

double Served(Cluster& cluster, size_t pod) { return cluster.Stat(pod, "/requests/plain"); }

// A system prompt of about 600 tokens, different per `topic`.
std::string SystemPrompt(int topic) {
  std::string text = "You are assistant number " + std::to_string(topic) + ".";
  for (int i = 0; i < 150; ++i) text += " rule " + std::to_string(topic * 1000 + i) + " applies";
  return text;
}

// The same two messages, written two ways: compact with role first, and spaced with content
// first (as another SDK or a proxy that re-encodes JSON would send them).
std::string Compact(int topic) {
  return std::string(R"({"model":")") + kModel + R"(","max_tokens":4,"messages":[)" +
         R"({"role":"system","content":")" + SystemPrompt(topic) + R"("},)" +
         R"({"role":"user","content":"What is rule )" + std::to_string(topic) + R"(?"}]})";
}

std::string Spaced(int topic) {
  return std::string("{ \"messages\": [ { \"content\": \"") + SystemPrompt(topic) +
         "\", \"role\": \"system\" },\n  { \"content\": \"What is rule " + std::to_string(topic) +
         "?\", \"role\": \"user\" } ],\n  \"max_tokens\": 4, \"model\": \"" + kModel + "\" }";
}

// Which pod served the request `send` makes.
size_t ServedBy(Cluster& cluster, const std::function<void()>& send) {
  std::vector<double> before;
  for (size_t i = 0; i < 3; ++i) before.push_back(Served(cluster, i));
  send();
  for (size_t i = 0; i < 3; ++i) {
    if (Served(cluster, i) > before[i]) return i;
  }
  return 3;
}

void RunSameMessagesRewritten(const std::string& encoding) {
  Cluster cluster(ThreeEngines(encoding));
  REQUIRE(Following(cluster));
  for (int topic = 0; topic < 6; ++topic) {
    INFO("topic " << topic);
    const double blocks_before = MetricValue(Metrics(cluster), "pdgate_kv_index_blocks");
    const size_t first = ServedBy(cluster, [&] {
      auto response = cluster.Post("/v1/chat/completions", Compact(topic));
      REQUIRE(response.ok());
      REQUIRE(response->status == 200);
    });
    REQUIRE(first < 3);
    // The engine's BlockStored events reach the index (about 600 tokens: 30+ blocks).
    REQUIRE(Eventually(
        [&] {
          return MetricValue(Metrics(cluster), "pdgate_kv_index_blocks") >= blocks_before + 30;
        },
        5s));
    for (int again = 0; again < 2; ++again) {
      double cached = -1;
      const size_t second = ServedBy(cluster, [&] {
        auto response = cluster.Post("/v1/chat/completions", Spaced(topic));
        REQUIRE(response.ok());
        REQUIRE(response->status == 200);
        cached =
            JsonNumberAt(response->body, "/usage/prompt_tokens_details/cached_tokens").value_or(-1);
      });
      CHECK(second == first);
      CHECK(cached >= 30 * 16);  // the engine found the prefix in its own cache
    }
  }
  const std::string metrics = Metrics(cluster);
  INFO(metrics);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="tokenize"})") >= 12);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="unavailable"})") == 0);
  CHECK(MetricValue(metrics, "pdgate_kv_event_decode_errors_total") == 0);
  CHECK(MetricValue(metrics, "pdgate_kv_event_block_size_mismatches_total") == 0);
  CHECK(MetricValue(metrics, "pdgate_kv_event_replays_total") >= 3);  // one per engine at join
}

}  // namespace

TEST_CASE("kvcache-aware follows the engines' KV events through re-serialized messages (array)") {
  RunSameMessagesRewritten("array");
}

TEST_CASE("kvcache-aware follows the engines' KV events through re-serialized messages (map)") {
  RunSameMessagesRewritten("map");
}

TEST_CASE("kvcache-aware uses a completions prompt's own token ids, and the tokenize cache") {
  Cluster cluster(ThreeEngines("map"));
  REQUIRE(Following(cluster));
  std::string ids;
  for (int i = 0; i < 400; ++i) ids += (i ? "," : "") + std::to_string(1000 + i * 7);
  const std::string body =
      std::string(R"({"model":")") + kModel + R"(","max_tokens":2,"prompt":[)" + ids + "]}";
  const size_t first = ServedBy(cluster, [&] {
    auto response = cluster.Post("/v1/completions", body);
    REQUIRE(response.ok());
    REQUIRE(response->status == 200);
  });
  REQUIRE(first < 3);
  REQUIRE(Eventually([&] { return MetricValue(Metrics(cluster), "pdgate_kv_index_blocks") >= 24; },
                     5s));
  for (int again = 0; again < 3; ++again) {
    CHECK(ServedBy(cluster, [&] {
            auto response = cluster.Post("/v1/completions", body);
            REQUIRE(response.ok());
            REQUIRE(response->status == 200);
          }) == first);
  }
  // A chat prompt sent twice is tokenized once per io thread at most.
  for (int i = 0; i < 6; ++i) {
    auto response = cluster.Post("/v1/chat/completions", Compact(9));
    REQUIRE(response.ok());
    REQUIRE(response->status == 200);
  }
  const std::string metrics = Metrics(cluster);
  INFO(metrics);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="request"})") == 4);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="tokenize"})") <= 2);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="cache"})") >= 4);
}

TEST_CASE("kvcache-aware: new questions after a known system prompt use the prefix's cached ids") {
  Cluster cluster(ThreeEngines("array"));
  REQUIRE(Following(cluster));
  auto ask = [&](int question) {
    return std::string(R"({"model":")") + kModel + R"(","max_tokens":2,"messages":[)" +
           R"({"role":"system","content":")" + SystemPrompt(11) + R"("},)" +
           R"({"role":"user","content":"Question number )" + std::to_string(question) + R"(?"}]})";
  };
  std::vector<size_t> served;
  for (int question = 0; question < 10; ++question) {
    served.push_back(ServedBy(cluster, [&] {
      auto response = cluster.Post("/v1/chat/completions", ask(question));
      REQUIRE(response.ok());
      REQUIRE(response->status == 200);
    }));
  }
  // Every question went where the system prompt is cached.
  REQUIRE(served[0] < 3);
  for (size_t pod : served) CHECK(pod == served[0]);
  // Each io thread asks /tokenize for a prefix's first two requests (the ids they share are the
  // prefix's); later questions use those.
  const std::string metrics = Metrics(cluster);
  INFO(metrics);
  const double tokenized =
      MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="tokenize"})");
  const double prefix = MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="prefix"})");
  CHECK(tokenized + prefix == 10);
  CHECK(prefix >= 6);
  CHECK(MetricValue(metrics, R"(pdgate_kv_prompt_tokens_total{source="unavailable"})") == 0);
}
