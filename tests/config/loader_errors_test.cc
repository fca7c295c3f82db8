// Negative configuration tests: each asserts the whole message, so the file, document, object,
// field path and reason are all pinned.
#include <catch2/catch.hpp>

#include "tests/config/config_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

std::string Server(const std::string& from, const std::string& to) {
  return Replace(kServerYaml, from, to);
}

const std::string kServer = "pd.yaml: document 1 (ModelServer dev/deepseek-v2): ";
const std::string kRoute = "pd.yaml: document 2 (ModelRoute dev/deepseek-v2): ";

// The load fails, and one of its errors is exactly `message`.
void ExpectError(const std::string& yaml, const std::string& message) {
  config::LoadResult result = LoadYaml(yaml);
  INFO("errors:\n" << StrJoin(result.errors, "\n"));
  CHECK(result.config == nullptr);
  CHECK(std::find(result.errors.begin(), result.errors.end(), message) != result.errors.end());
}

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

// --- Pods and settings ---------------------------------------------------------------------------

TEST_CASE("rejects: a pod IP that is not an address") {
  ExpectError(Pod("p", "    app: ds", "not-an-ip"),
              "pd.yaml: document 1 (Pod dev/p): status.podIP: \"not-an-ip\" is not an IP address");
}

TEST_CASE("rejects: a pod in a list with an invalid label value") {
  ExpectError(
      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata:\n"
      "    name: p\n    labels: {app: \"-bad\"}\n",
      "pd.yaml: document 1 items[0] (Pod default/p): metadata.labels.app: label value must "
      "be alphanumeric, '-', '_' or '.', starting and ending with an alphanumeric");
}

TEST_CASE("rejects: an unknown scheduler plugin") {
  ExpectError(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  scheduler:
    plugins:
      Score:
        enabled:
          - name: fastest
)",
              "pd.yaml: document 1 (RouterConfiguration default/r): "
              "spec.scheduler.plugins.Score.enabled[0].name: unknown score plugin \"fastest\"");
}

TEST_CASE("rejects: a least-latency weight factor outside [0, 1]") {
  ExpectError(R"(apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: r}
spec:
  scheduler:
    pluginConfig:
      - name: least-latency
        args: {TTFTTPOTWeightFactor: 1.5}
)",
              "pd.yaml: document 1 (RouterConfiguration default/r): "
              "spec.scheduler.pluginConfig[0].args.TTFTTPOTWeightFactor: must be between 0 and 1");
}

TEST_CASE("rejects: auth with a jwksUri that is not http(s)") {
  ExpectError(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  routerConfiguration: |\n"
      "    auth:\n      jwksUri: file:///etc/jwks.json\n",
      "pd.yaml: document 1: data.routerConfiguration.auth.jwksUri: must be an http:// or https:// "
      "URL");
}

TEST_CASE("rejects: API keys without a digest, with a bad digest, twice, or short") {
  const std::string head =
      "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n"
      "spec:\n  auth:\n    apiKeys:\n";
  const std::string scope = "pd.yaml: document 1 (RouterConfiguration default/r): ";
  ExpectError(head + "      - {id: a}\n",
              scope + "spec.auth.apiKeys[0]: needs sha256 (the key's SHA-256 digest in hex) or key");
  ExpectError(head + "      - {id: a, sha256: abc}\n",
              scope + "spec.auth.apiKeys[0].sha256: must be 64 hexadecimal digits");
  ExpectError(head + "      - {id: a, key: short}\n",
              scope + "spec.auth.apiKeys[0].key: must be at least 16 characters");
  ExpectError(head + "      - {id: a, key: sk-0123456789abcdef}\n"
                     "      - {id: a, key: sk-0123456789abcdeX}\n",
              scope + "spec.auth.apiKeys: API key id \"a\" is defined twice");
  ExpectError(head + "      - {id: a, key: sk-0123456789abcdef}\n"
                     "      - {id: b, key: sk-0123456789abcdef}\n",
              scope + "spec.auth.apiKeys: API keys \"a\" and \"b\" are the same key");
  ExpectError(head.substr(0, head.size() - 9) + "    apiKeysFile: /nonexistent/keys.yaml\n",
              scope + "spec.auth.apiKeysFile: cannot read /nonexistent/keys.yaml");
}

TEST_CASE("rejects: two router settings documents") {
  std::string doc =
      "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n";
  ExpectError(doc + "---\n" + doc,
              "pd.yaml: document 2: router settings are already defined in pd.yaml: document 1");
}

TEST_CASE("rejects: a zero timeout in the router settings") {
  ExpectError(
      "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n"
      "spec:\n  timeouts: {upstreamConnect: 0s}\n",
      "pd.yaml: document 1 (RouterConfiguration default/r): spec.timeouts.upstreamConnect: "
      "must be greater than 0");
}

TEST_CASE("rejects: YAML that does not parse, with line and column") {
  config::LoadResult result = LoadYaml("kind: [unclosed\n");
  REQUIRE(result.errors.size() == 1);
  CHECK(result.errors[0].rfind("pd.yaml:2:1: invalid YAML: ", 0) == 0);
}

TEST_CASE("rejects: a file that cannot be read") {
  config::LoadResult result = config::LoadConfigFiles({"/nonexistent/pd.yaml"});
  REQUIRE(result.errors == std::vector<std::string>{"/nonexistent/pd.yaml: cannot read file"});
}

TEST_CASE("warns: a route target naming a missing ModelServer") {
  config::LoadResult result = LoadYaml(
      WithRoute("  modelName: m\n  rules:\n    - targetModels: [{modelServerName: nope}]\n"));
  CHECK(result.errors.empty());
  CHECK(std::find(result.warnings.begin(), result.warnings.end(),
                  kRoute +
                      "spec.rules[0].targetModels[0].modelServerName: no ModelServer dev/nope; "
                      "this target is unusable until it exists") != result.warnings.end());
}

TEST_CASE("rejects: an upstream key from an unset environment variable") {
  unsetenv("PDGATE_TEST_UNSET_KEY");
  ExpectError(Server("  namespace: dev\n",
                     "  namespace: dev\n  annotations:\n    "
                     "pdgate.io/upstream-authorization: "
                     "secret-env:PDGATE_TEST_UNSET_KEY\n"),
              kServer +
                  "metadata.annotations.pdgate.io/upstream-authorization: environment "
                  "variable PDGATE_TEST_UNSET_KEY is not set");
}

TEST_CASE("rejects: an upstream key file that cannot be read") {
  ExpectError(Server("  namespace: dev\n",
                     "  namespace: dev\n  annotations:\n    "
                     "pdgate.io/upstream-authorization: secret-file:/nonexistent/key\n"),
              kServer +
                  "metadata.annotations.pdgate.io/upstream-authorization: cannot read a key "
                  "from /nonexistent/key");
}

TEST_CASE("rejects: a global rate limit whose Redis address is not host:port") {
  ExpectError(WithRoute("  modelName: m\n  rules: [{targetModels: [{modelServerName: deepseek-v2}]}]\n"
                        "  rateLimit: {inputTokensPerUnit: 10, global: {redis: {address: "
                        "\"redis:port\"}}}\n"),
              kRoute + "spec.rateLimit.global.redis.address: must be host:port, not \"redis:port\"");
}

TEST_CASE("rejects: an unknown upstream Authorization policy") {
  ExpectError(Server("  namespace: dev\n",
                     "  namespace: dev\n  annotations:\n    "
                     "pdgate.io/upstream-authorization: replace\n"),
              kServer +
                  "metadata.annotations.pdgate.io/upstream-authorization: must be forward, "
                  "strip, secret-env:NAME or secret-file:PATH, not \"replace\"");
}

TEST_CASE("rejects: an unknown access log format") {
  ExpectError(
      "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n"
      "spec:\n  accessLog: {format: xml}\n",
      "pd.yaml: document 1 (RouterConfiguration default/r): spec.accessLog.format: must be "
      "json or text, not \"xml\"");
}

TEST_CASE("rejects: a `,` outside any flow collection, which yaml-cpp 0.7 would parse for ever") {
  // Found by fuzzing: yaml-cpp's parser loops on these, allocating until memory runs out.
  for (const char* yaml : {",\n", "kind: Pod\n, x\n", "[a], b\n"}) {
    INFO(yaml);
    ExpectError(yaml, "pd.yaml: invalid YAML: a `,` outside any [...] or {...}");
  }
}

TEST_CASE("commas inside plain scalars, quotes and flow collections are fine") {
  config::LoadResult result = LoadYaml(
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, labels: {a: \"x, y\"}}\n"
      "data: {note: plain, with commas, list: \"[1, 2]\"}\n");
  INFO("errors:\n" << StrJoin(result.errors, "\n"));
  CHECK(result.errors.empty());
  CHECK(result.config != nullptr);
}
