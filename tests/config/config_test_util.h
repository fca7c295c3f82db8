#pragma once
// Builds YAML documents for configuration tests: a valid PD ModelServer and ModelRoute that a test
// changes one field of.
#include <stdexcept>
#include <string>
#include <vector>

#include "config/loader.h"
#include "base/strings.h"

namespace pdgate::testing {

inline config::LoadResult LoadYaml(const std::string& yaml, const std::string& name = "pd.yaml") {
  config::ConfigLoader loader;
  loader.AddYaml(name, yaml);
  return loader.Finish();
}

inline std::string Replace(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  if (pos == std::string::npos) throw std::invalid_argument("not found: " + from);
  return text.replace(pos, from.size(), to);
}

inline const char* kServerYaml = R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata:
  name: deepseek-v2
  namespace: dev
spec:
  kvConnector:
    type: nixl
  workloadSelector:
    matchLabels:
      app: ds
    pdGroup:
      groupKey: group
      prefillLabels:
        role: prefill
      decodeLabels:
        role: decode
  workloadPort:
    port: 8000
  model: "deepseek-ai/DeepSeekV2"
  inferenceEngine: vLLM
  trafficPolicy:
    timeout: 10s
)";

inline std::string WithRoute(const std::string& route_spec) {
  return std::string(kServerYaml) + R"(---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata:
  name: deepseek-v2
  namespace: dev
spec:
)" + route_spec;
}

inline std::string Pod(const std::string& name, const std::string& labels, const std::string& ip,
                       const std::string& phase = "Running", const std::string& ready = "True") {
  return R"(apiVersion: v1
kind: Pod
metadata:
  name: )" +
         name + R"(
  namespace: dev
  labels:
)" + labels +
         R"(
status:
  phase: )" +
         phase + R"(
  podIP: )" +
         ip + R"(
  conditions:
    - type: Ready
      status: ")" +
         ready + "\"\n";
}

}  // namespace pdgate::testing
