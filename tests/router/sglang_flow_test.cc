// The SGLang PD flow: both legs at once with the bootstrap trio; a failed prefill aborts the
// decode instead of leaving it to wait for minutes.
#include <catch2/catch.hpp>

#include "tests/router/pd_cluster.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

ClusterSpec SglangPair(std::vector<std::string> prefill_args = {}) {
  ClusterSpec spec;
  spec.engine = "SGLang";
  spec.kv_connector = "";  // an SGLang ModelServer without kvConnector uses the SGLang flow
  spec.retry_attempts = 0;
  spec.pods = {{"g0", "prefill", prefill_args}, {"g0", "decode", {}}};
  return spec;
}

const std::string kCapitalChat =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Where is the capital of China?"}],"max_tokens":12)";

}  // namespace

TEST_CASE("an SGLang pair serves streaming and non-streaming chats") {
  Cluster cluster(SglangPair());
  for (const bool stream : {false, true}) {
    INFO("stream=" << stream);
    auto response =
        cluster.Post("/v1/chat/completions", kCapitalChat + (stream ? R"(,"stream":true})" : "}"));
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 200);
    CHECK_FALSE(GeneratedText(response->body, stream).empty());
    if (stream) CHECK(DataEvents(response->body).back() == "[DONE]");
  }
  auto completion =
      cluster.Post("/v1/completions",
                   R"({"model":"deepseek-ai/DeepSeekV2","prompt":"Once upon","max_tokens":8})");
  REQUIRE(completion.ok());
  CHECK(completion->status == 200);
  CHECK_FALSE(GeneratedText(completion->body, false).empty());
  CHECK(cluster.Stat(0, "/requests/prefill") == 3);
  CHECK(cluster.Stat(1, "/requests/decode") == 3);
  CHECK(cluster.Stat(0, "/bootstrap_failed") == 0);
  CHECK(cluster.Stat(1, "/bootstrap_failed") == 0);
}

TEST_CASE("an SGLang prefill failure aborts the waiting decode within 1 s") {
  Cluster cluster(SglangPair({"--fail-rate", "1", "--fail-status", "500"}));
  SECTION("non-streaming: the prefill's error reaches the client") {
    const auto start = std::chrono::steady_clock::now();
    auto response = cluster.Post("/v1/chat/completions", kCapitalChat + "}");
    REQUIRE(response.ok());
    INFO(response->body);
    CHECK(response->status == 500);  // the engine's own error, passed on, not retried
    CHECK(response->body.find(R"({"error":{"message":)") != std::string::npos);
    REQUIRE(cluster.WaitForStat(1, "/finished/abort", 1, 2s));
    CHECK(std::chrono::steady_clock::now() - start < 1s);
  }
  SECTION("streaming: an error status, or an error event if the decode had answered 200") {
    // The two legs race: the prefill's failure can land before or after the decode's headers.
    const auto start = std::chrono::steady_clock::now();
    auto response = cluster.Post("/v1/chat/completions", kCapitalChat + R"(,"stream":true})");
    REQUIRE(response.ok());
    INFO(response->body);
    if (response->status == 200) {
      auto events = DataEvents(response->body);
      REQUIRE(events.size() >= 2);
      CHECK(events[events.size() - 2].find("\"error\"") != std::string::npos);
      CHECK(events.back() == "[DONE]");
    } else {
      CHECK(response->status == 500);
      CHECK(response->body.find(R"({"error":{"message":)") != std::string::npos);
    }
    REQUIRE(cluster.WaitForStat(1, "/finished/abort", 1, 2s));
    CHECK(std::chrono::steady_clock::now() - start < 1s);
  }
}
