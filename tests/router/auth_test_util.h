#pragma once
// Helpers both end-to-end authentication test files share (auth_test.cc, auth_jwt_test.cc):
// an aggregated cluster with an auth section and an access log, chat requests, metrics, files.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"

namespace pdgate::testing {

inline const std::string kChat =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hello"}],"max_tokens":3})";

inline std::string TempPath(const std::string& name) {
  return "/tmp/pdgate-auth-" + name + "-" + std::to_string(getpid());
}

inline ClusterSpec AggregatedSpec(const std::string& auth_yaml, const std::string& log_path) {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.extra_settings = "  accessLog: {output: " + log_path + "}\n  auth:\n" + auth_yaml;
  return spec;
}

inline absl::StatusOr<HttpResponse> Chat(
    Cluster& cluster, const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body = kChat) {
  return cluster.Post("/v1/chat/completions", body, headers);
}

inline int StatusOf(const absl::StatusOr<HttpResponse>& response) {
  return response.ok() ? response->status : 0;
}

inline std::string Bearer(const std::string& credential) { return "Bearer " + credential; }

}  // namespace pdgate::testing
