#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "config/loader.h"
#include "router/fairness/fairness_queues.h"

namespace pdgate::config {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kHeader =
    "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\nspec:\n";

LoadResult Load(std::string_view spec, std::map<std::string, std::string> env = {}) {
  ConfigLoader loader;
  loader.AddYaml("r.yaml", std::string(kHeader) + std::string(spec));
  SettingsOverrides overrides;
  overrides.getenv = [env = std::move(env)](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  return loader.Finish(overrides);
}

bool Mentions(const std::vector<std::string>& messages, std::string_view text) {
  for (const std::string& m : messages) {
    if (m.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST_CASE("fairness is off by default, with Kthena's weights", "[fairness]") {
  LoadResult result = Load("  threads: 1\n");
  REQUIRE(result.config);
  const FairnessSettings& f = result.config->settings.fairness;
  CHECK_FALSE(f.enabled);
  CHECK(f.input_token_weight == 1.0);
  CHECK(f.output_token_weight == 2.0);
  CHECK(f.window == 5min);
  CHECK(f.queue_timeout == 60s);
}

TEST_CASE("the fairness section is read and checked", "[fairness]") {
  LoadResult result = Load(R"(  fairness:
    enabled: true
    maxConcurrent: 8
    maxShare: 0.5
    queueTimeout: 5s
    maxQueued: 100
    window: 10m
    outputTokenWeight: 3
    requestWeight: 10
    priorityClasses: [gold, silver, bronze]
    defaultPriorityClass: silver
    key: tenant
)");
  REQUIRE(result.errors.empty());
  const FairnessSettings& f = result.config->settings.fairness;
  CHECK(f.enabled);
  CHECK(f.max_concurrent == 8);
  CHECK(f.max_share == 0.5);
  CHECK(f.queue_timeout == 5s);
  CHECK(f.max_queued == 100);
  CHECK(f.window == 10min);
  CHECK(f.output_token_weight == 3.0);
  CHECK(f.request_weight == 10.0);
  CHECK(f.key == LimitKey::kTenant);
  CHECK(fairness::PriorityLevel(f, "gold") == 0);
  CHECK(fairness::PriorityLevel(f, "bronze") == 2);
  CHECK(fairness::PriorityLevel(f, "") == 1);         // the default class
  CHECK(fairness::PriorityLevel(f, "platinum") == 1);  // unknown: the default class

  LoadResult bad = Load(R"(  fairness:
    window: 0s
    maxShare: 1.5
    outputTokenWeight: -1
    priorityClasses: [a, a]
    key: team
)");
  CHECK_FALSE(bad.config);
  CHECK(Mentions(bad.errors, "spec.fairness.window"));
  CHECK(Mentions(bad.errors, "spec.fairness.maxShare"));
  CHECK(Mentions(bad.errors, "spec.fairness.outputTokenWeight"));
  CHECK(Mentions(bad.errors, "spec.fairness.priorityClasses"));
  CHECK(Mentions(bad.errors, "spec.fairness.key"));
}

TEST_CASE("Kthena's fairness environment variables win over the file", "[fairness]") {
  LoadResult result = Load("  fairness: {enabled: false, maxConcurrent: 4}\n",
                           {{"ENABLE_FAIRNESS_SCHEDULING", "true"},
                            {"FAIRNESS_WINDOW_SIZE", "1h"},
                            {"FAIRNESS_INPUT_TOKEN_WEIGHT", "0.5"},
                            {"FAIRNESS_OUTPUT_TOKEN_WEIGHT", "4"},
                            {"FAIRNESS_PRIORITY_TOKEN_WEIGHT", "2"},
                            {"FAIRNESS_PRIORITY_REQUEST_NUM_WEIGHT", "100"},
                            {"FAIRNESS_MAX_CONCURRENT", "12"},
                            {"FAIRNESS_QUEUE_TIMEOUT", "90s"},
                            {"FAIRNESS_MAX_QPS", "100"}});
  REQUIRE(result.errors.empty());
  const FairnessSettings& f = result.config->settings.fairness;
  CHECK(f.enabled);
  CHECK(f.window == 1h);
  CHECK(f.input_token_weight == 0.5);
  CHECK(f.output_token_weight == 4.0);
  CHECK(f.token_weight == 2.0);
  CHECK(f.request_weight == 100.0);
  CHECK(f.max_concurrent == 12);
  CHECK(f.queue_timeout == 90s);
  CHECK(Mentions(result.warnings, "FAIRNESS_MAX_QPS"));

  LoadResult bad = Load("", {{"ENABLE_FAIRNESS_SCHEDULING", "yes"},
                             {"FAIRNESS_MAX_CONCURRENT", "-1"},
                             {"FAIRNESS_QUEUE_TIMEOUT", "soon"}});
  CHECK_FALSE(bad.config);
  CHECK(Mentions(bad.errors, "ENABLE_FAIRNESS_SCHEDULING"));
  CHECK(Mentions(bad.errors, "FAIRNESS_MAX_CONCURRENT"));
  CHECK(Mentions(bad.errors, "FAIRNESS_QUEUE_TIMEOUT"));
}

}  // namespace
}  // namespace pdgate::config
