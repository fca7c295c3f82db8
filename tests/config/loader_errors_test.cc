// Negative configuration tests of ModelServers and ModelRoutes: each asserts the whole message,
// so the file, document, object, field path and reason are all pinned. Pods and router settings
// are in loader_settings_errors_test.cc.
#include <catch2/catch.hpp>

#include "tests/config/config_test_util.h"
#include "tests/config/loader_errors_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

const std::string kTwoTargets = R"(  modelName: m
  rules:
    - name: canary
      targetModels:
        - modelServerName: deepseek-v2
          weight: 70
        - modelServerName: deepseek-v2
)";

}  // namespace

// --- ModelServer ---------------------------------------------------------------------------------

TEST_CASE("rejects: matchLabels empty") {
  ExpectError(Server("    matchLabels:\n      app: ds\n", "    matchLabels: {}\n"),
              kServer + "spec.workloadSelector.matchLabels: must have at least 1 label");
}

TEST_CASE("rejects: workloadSelector missing") {
  ExpectError(Server("  workloadSelector:", "  otherSelector:"),
              kServer + "spec.workloadSelector: required");
}

TEST_CASE("rejects: pdGroup without groupKey") {
  ExpectError(Server("      groupKey: group\n", ""),
              kServer + "spec.workloadSelector.pdGroup.groupKey: required");
}

TEST_CASE("rejects: pdGroup with empty prefillLabels") {
  ExpectError(Server("      prefillLabels:\n        role: prefill\n", "      prefillLabels: {}\n"),
              kServer + "spec.workloadSelector.pdGroup.prefillLabels: must have at least 1 label");
}

TEST_CASE("rejects: pdGroup without decodeLabels") {
  ExpectError(Server("      decodeLabels:\n        role: decode\n", ""),
              kServer + "spec.workloadSelector.pdGroup.decodeLabels: required");
}

TEST_CASE("rejects: port 0") {
  ExpectError(Server("port: 8000", "port: 0"),
              kServer + "spec.workloadPort.port: must be between 1 and 65535, not 0");
}

TEST_CASE("rejects: port above 65535") {
  ExpectError(Server("port: 8000", "port: 70000"),
              kServer + "spec.workloadPort.port: must be between 1 and 65535, not 70000");
}

TEST_CASE("rejects: port written as a string") {
  ExpectError(Server("port: 8000", "port: \"8000\""),
              kServer + "spec.workloadPort.port: must be an integer, not \"8000\"");
}

TEST_CASE("rejects: unknown inferenceEngine") {
  ExpectError(Server("inferenceEngine: vLLM", "inferenceEngine: TGI"),
              kServer + "spec.inferenceEngine: must be \"vLLM\" or \"SGLang\", not \"TGI\"");
}

TEST_CASE("rejects: missing inferenceEngine") {
  ExpectError(Server("  inferenceEngine: vLLM\n", ""), kServer + "spec.inferenceEngine: required");
}

TEST_CASE("rejects: unknown kvConnector type") {
  ExpectError(Server("type: nixl", "type: p2pnccl"),
              kServer +
                  "spec.kvConnector.type: must be one of http, lmcache, nixl, mooncake, not "
                  "\"p2pnccl\"");
}

TEST_CASE("rejects: a timeout that is not a duration") {
  ExpectError(Server("timeout: 10s", "timeout: ten"),
              kServer +
                  "spec.trafficPolicy.timeout: \"ten\" is not a duration like 10s, 100ms or "
                  "1m30s");
}

TEST_CASE("rejects: a negative retry interval") {
  ExpectError(Server("timeout: 10s", "timeout: 10s\n    retry:\n      retryInterval: -1s"),
              kServer + "spec.trafficPolicy.retry.retryInterval: must not be negative");
}

TEST_CASE("rejects: an invalid label key") {
  ExpectError(Server("      app: ds", "      \"bad key!\": ds"),
              kServer +
                  "spec.workloadSelector.matchLabels.bad key!: label key name must be "
                  "alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric");
}

TEST_CASE("rejects: a model name over 256 characters") {
  ExpectError(Server("model: \"deepseek-ai/DeepSeekV2\"", "model: " + std::string(257, 'm')),
              kServer + "spec.model: longer than 256 characters");
}

TEST_CASE("rejects: a ModelServer without a name") {
  ExpectError(Server("  name: deepseek-v2\n", ""),
              "pd.yaml: document 1 (ModelServer dev/): metadata.name: required");
}

TEST_CASE("rejects: a ModelServer with the wrong apiVersion") {
  ExpectError(Server("networking.serving.volcano.sh/v1alpha1", "v1"),
              "pd.yaml: document 1: apiVersion: ModelServer must have apiVersion "
              "networking.serving.volcano.sh/v1alpha1, not v1");
}

TEST_CASE("rejects: a document without kind") {
  ExpectError("apiVersion: v1\nmetadata: {name: x}\n", "pd.yaml: document 1: kind: required");
}

TEST_CASE("rejects: two ModelServers with one name") {
  ExpectError(std::string(kServerYaml) + "---\n" + kServerYaml,
              "pd.yaml: document 2 (ModelServer dev/deepseek-v2): metadata.name: duplicate "
              "ModelServer; first defined in pd.yaml: document 1");
}

// --- ModelRoute ----------------------------------------------------------------------------------

TEST_CASE("rejects: weights on some targets of a rule but not all") {
  ExpectError(WithRoute(kTwoTargets),
              kRoute +
                  "spec.rules[0].targetModels[1].weight: set on some targets of the rule but "
                  "not all");
}

TEST_CASE("rejects: weights that add up to 0") {
  ExpectError(WithRoute(Replace(kTwoTargets,
                                "        - modelServerName: deepseek-v2\n          weight: 70\n    "
                                "    - modelServerName: deepseek-v2\n",
                                "        - modelServerName: deepseek-v2\n          weight: 0\n     "
                                "   - modelServerName: deepseek-v2\n          weight: 0\n")),
              kRoute + "spec.rules[0].targetModels: weights must add up to more than 0");
}

TEST_CASE("rejects: a weight above 100") {
  ExpectError(WithRoute(Replace(kTwoTargets, "weight: 70", "weight: 170")),
              kRoute + "spec.rules[0].targetModels[0].weight: must be between 0 and 100, not 170");
}

TEST_CASE("rejects: neither modelName nor loraAdapters") {
  ExpectError(WithRoute("  rules:\n    - targetModels:\n        - modelServerName: deepseek-v2\n"),
              kRoute + "spec.modelName: required when spec.loraAdapters is empty");
}

TEST_CASE("rejects: more than 16 rules") {
  std::string rules = "  modelName: m\n  rules:\n";
  for (int i = 0; i < 17; ++i) rules += "    - targetModels: [{modelServerName: deepseek-v2}]\n";
  ExpectError(WithRoute(rules), kRoute + "spec.rules: must have 1 to 16 entries, not 17");
}

TEST_CASE("rejects: a rule without targets") {
  ExpectError(WithRoute("  modelName: m\n  rules:\n    - name: empty\n      targetModels: []\n"),
              kRoute + "spec.rules[0].targetModels: must have 1 to 16 entries, not 0");
}

TEST_CASE("rejects: a regex that does not compile") {
  ExpectError(WithRoute(R"(  modelName: m
  rules:
    - modelMatch:
        headers:
          user-type:
            regex: "premium(["
      targetModels: [{modelServerName: deepseek-v2}]
)"),
              kRoute +
                  "spec.rules[0].modelMatch.headers.user-type.regex: invalid regular "
                  "expression: missing ]: [");
}

TEST_CASE("rejects: a StringMatch with two kinds") {
  ExpectError(WithRoute(R"(  modelName: m
  rules:
    - modelMatch:
        uri: {exact: /v1/completions, prefix: /v1}
      targetModels: [{modelServerName: deepseek-v2}]
)"),
              kRoute + "spec.rules[0].modelMatch.uri: must set only one of exact, prefix or regex");
}

TEST_CASE("rejects: a target without modelServerName") {
  ExpectError(WithRoute("  modelName: m\n  rules:\n    - targetModels:\n        - weight: 5\n"),
              kRoute + "spec.rules[0].targetModels[0].modelServerName: required");
}

TEST_CASE("rejects: an ExternalModelProvider target") {
  ExpectError(WithRoute("  modelName: m\n  rules:\n    - targetModels:\n        - "
                        "externalModelProviderName: openai\n"),
              kRoute +
                  "spec.rules[0].targetModels[0].externalModelProviderName: "
                  "ExternalModelProvider targets are not supported by pdgate");
}

TEST_CASE("rejects: more than 10 LoRA adapters") {
  ExpectError(WithRoute("  loraAdapters: [a,b,c,d,e,f,g,h,i,j,k]\n  rules:\n    - targetModels: "
                        "[{modelServerName: deepseek-v2}]\n"),
              kRoute + "spec.loraAdapters: at most 10 entries, not 11");
}

TEST_CASE("rejects: a rate limit with an unknown unit and a zero budget") {
  std::string yaml = WithRoute(R"(  modelName: m
  rules:
    - targetModels: [{modelServerName: deepseek-v2}]
  rateLimit:
    inputTokensPerUnit: 0
    unit: week
)");
  ExpectError(yaml, kRoute +
                        "spec.rateLimit.unit: must be one of second, minute, hour, day, month, "
                        "not \"week\"");
  ExpectError(yaml, kRoute +
                        "spec.rateLimit.inputTokensPerUnit: must be between 1 and 4294967295, "
                        "not 0");
}

TEST_CASE("rejects: a global rate limit without a Redis address") {
  ExpectError(WithRoute(R"(  modelName: m
  rules:
    - targetModels: [{modelServerName: deepseek-v2}]
  rateLimit:
    outputTokensPerUnit: 100
    global:
      redis: {}
)"),
              kRoute + "spec.rateLimit.global.redis.address: required");
}
