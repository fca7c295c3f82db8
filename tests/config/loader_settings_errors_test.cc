// Negative configuration tests of Pods and router settings: each asserts the whole message, so
// the file, document, object, field path and reason are all pinned.
#include <catch2/catch.hpp>

#include "tests/config/config_test_util.h"
#include "tests/config/loader_errors_util.h"

using namespace pdgate;
using namespace pdgate::testing;

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
