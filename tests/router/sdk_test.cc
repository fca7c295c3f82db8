// The official OpenAI SDK (npm `openai`, installed by ./dev.sh into tests/sdk) through pdgate.
#include <catch2/catch.hpp>

#include "tests/router/pd_cluster.h"
#include "tests/support/paths.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

TEST_CASE("the OpenAI SDK streams, non-streams and gets NotFoundError through pdgate") {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  Cluster cluster(spec);
  auto result =
      RunCommand({"node", SourcePath("tests/sdk/openai_sdk_test.mjs"),
                  "http://127.0.0.1:" + std::to_string(cluster.router_port()) + "/v1", spec.model},
                 60s);
  REQUIRE(result.ok());
  INFO(result->out << result->err);
  CHECK(result->exit_code == 0);
  CHECK(result->out.find("ok non-streaming chat") != std::string::npos);
  CHECK(result->out.find("ok streaming chat") != std::string::npos);
  CHECK(result->out.find("ok unknown model raises NotFoundError") != std::string::npos);
}
