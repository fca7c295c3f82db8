// Kthena's ModelRoute rateLimit end to end: admission on the input estimate, the output bucket
// charged with the real usage of streamed and non-streamed answers (into debt), OpenAI's headers
// and 429, and a reload that removes the limit.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

std::string Chat(int max_tokens, bool stream, const std::string& content = "Hello there") {
  return R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":")" + content +
         R"("}],"max_tokens":)" + std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":)" +
         (stream ? "true" : "false") + "}";
}

ClusterSpec LimitedSpec() {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.route_extra =
      "  rateLimit: {inputTokensPerUnit: 200, outputTokensPerUnit: 20, unit: minute}\n";
  return spec;
}

}  // namespace

TEST_CASE("rateLimit: output over budget is charged and refuses the next request with a 429") {
  Cluster cluster(LimitedSpec());
  auto first = cluster.Post("/v1/chat/completions", Chat(15, false));
  REQUIRE(first.ok());
  INFO(first->body);
  REQUIRE(first->status == 200);
  CHECK(first->Header("x-ratelimit-limit-tokens") == "200");
  CHECK(first->Header("x-ratelimit-limit-output-tokens") == "20");
  CHECK(first->Header("x-ratelimit-remaining-output-tokens") == "20");  // before this answer
  const std::string remaining = first->Header("x-ratelimit-remaining-tokens");
  REQUIRE_FALSE(remaining.empty());
  CHECK(std::stoi(remaining) < 200);
  CHECK(std::stoi(remaining) > 150);

  // Five output tokens are left: a stream is admitted and its 15 tokens put the bucket in debt.
  auto streamed = cluster.Post("/v1/chat/completions", Chat(15, true));
  REQUIRE(streamed.ok());
  REQUIRE(streamed->status == 200);
  CHECK(streamed->Header("x-ratelimit-remaining-output-tokens") == "5");
  CHECK(streamed->body.find("\"usage\":{") == std::string::npos);  // the injected usage is hidden
  const double served = cluster.Stat(0, "/requests/plain");
  CHECK(served == 2);

  auto refused = cluster.Post("/v1/chat/completions", Chat(15, false));
  REQUIRE(refused.ok());
  INFO(refused->body);
  CHECK(refused->status == 429);
  CHECK(refused->body.find(R"("code":"rate_limit_exceeded")") != std::string::npos);
  CHECK(refused->body.find(R"("type":"tokens")") != std::string::npos);
  CHECK(refused->body.find("on output tokens per minute: Limit 20") != std::string::npos);
  const std::string retry = refused->Header("retry-after");
  REQUIRE_FALSE(retry.empty());
  // 10 tokens of debt and one more at 3 s a token: about 33 s.
  CHECK(std::stoi(retry) >= 30);
  CHECK(std::stoi(retry) <= 34);
  CHECK(refused->Header("x-ratelimit-remaining-output-tokens") == "0");
  CHECK(cluster.Stat(0, "/requests/plain") == served);  // no engine saw it
  CHECK(
      MetricValue(
          Metrics(cluster),
          R"(pdgate_ratelimit_decisions_total{limit="output",result="denied",route="dev/route"})") ==
      1);
}

TEST_CASE("rateLimit: a prompt larger than the whole bucket is refused as such") {
  Cluster cluster(LimitedSpec());
  auto huge = cluster.Post("/v1/chat/completions", Chat(5, false, std::string(2000, 'x')));
  REQUIRE(huge.ok());
  INFO(huge->body);
  CHECK(huge->status == 429);
  CHECK(huge->body.find("can never fit this limit") != std::string::npos);
  CHECK(huge->Header("retry-after").empty());  // retrying cannot help
  CHECK(cluster.Stat(0, "/requests/plain") == 0);
  // The bucket is untouched: a normal request passes.
  auto normal = cluster.Post("/v1/chat/completions", Chat(5, false));
  REQUIRE(normal.ok());
  CHECK(normal->status == 200);
  CHECK(
      MetricValue(
          Metrics(cluster),
          R"(pdgate_ratelimit_decisions_total{limit="input",result="too_large",route="dev/route"})") ==
      1);
}

TEST_CASE("rateLimit: a reload that removes the limit takes effect at once") {
  Cluster cluster(LimitedSpec());
  REQUIRE(cluster.Post("/v1/chat/completions", Chat(20, false))->status == 200);
  REQUIRE(cluster.Post("/v1/chat/completions", Chat(20, false))->status == 429);

  std::ifstream in(cluster.config_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const size_t at = yaml.find("  rateLimit:");
  REQUIRE(at != std::string::npos);
  yaml.erase(at, yaml.find('\n', at) + 1 - at);
  std::ofstream(cluster.config_path()) << yaml;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (MetricValue(Metrics(cluster), R"(pdgate_config_reloads_total{result="success"})") < 1 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);  // poll interval
  }
  auto after = cluster.Post("/v1/chat/completions", Chat(20, false));
  REQUIRE(after.ok());
  CHECK(after->status == 200);
  CHECK(after->Header("x-ratelimit-limit-tokens").empty());
}

TEST_CASE("rateLimits per API key: one principal's budget does not touch another's") {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.extra_settings =
      "  auth:\n    apiKeys:\n      - {id: key-a, key: sk-a-0123456789abcdef}\n"
      "      - {id: key-b, key: sk-b-0123456789abcdef}\n"
      "  rateLimits:\n    - {name: per-key, key: apiKey, requestsPerUnit: 2, unit: minute}\n";
  Cluster cluster(spec);
  const std::vector<std::pair<std::string, std::string>> a = {
      {"Authorization", "Bearer sk-a-0123456789abcdef"}};
  const std::vector<std::pair<std::string, std::string>> b = {
      {"Authorization", "Bearer sk-b-0123456789abcdef"}};
  auto first = cluster.Post("/v1/chat/completions", Chat(3, false), a);
  REQUIRE(first.ok());
  CHECK(first->status == 200);
  CHECK(first->Header("x-ratelimit-limit-requests") == "2");
  CHECK(first->Header("x-ratelimit-remaining-requests") == "1");
  REQUIRE(cluster.Post("/v1/chat/completions", Chat(3, false), a)->status == 200);
  auto refused = cluster.Post("/v1/chat/completions", Chat(3, false), a);
  REQUIRE(refused.ok());
  INFO(refused->body);
  CHECK(refused->status == 429);
  CHECK(refused->body.find(R"("type":"requests")") != std::string::npos);
  CHECK(refused->body.find("(limit per-key) on requests per minute: Limit 2") != std::string::npos);
  CHECK(refused->Header("x-ratelimit-remaining-requests") == "0");
  CHECK_FALSE(refused->Header("retry-after").empty());
  auto other = cluster.Post("/v1/chat/completions", Chat(3, false), b);
  REQUIRE(other.ok());
  CHECK(other->status == 200);
  CHECK(
      MetricValue(
          Metrics(cluster),
          R"(pdgate_ratelimit_decisions_total{limit="per-key:requests",result="denied",route=""})") ==
      1);
}

TEST_CASE("rateLimits without authentication key on the configured header") {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.extra_settings =
      "  rateLimitUserHeader: x-user-id\n"
      "  rateLimits:\n    - {name: per-user, requestsPerUnit: 1, unit: hour}\n";
  Cluster cluster(spec);
  CHECK(cluster.Post("/v1/chat/completions", Chat(3, false), {{"x-user-id", "alice"}})->status ==
        200);
  CHECK(cluster.Post("/v1/chat/completions", Chat(3, false), {{"x-user-id", "alice"}})->status ==
        429);
  CHECK(cluster.Post("/v1/chat/completions", Chat(3, false), {{"x-user-id", "bob"}})->status ==
        200);
  // No header: one shared "anonymous" principal.
  CHECK(cluster.Post("/v1/chat/completions", Chat(3, false))->status == 200);
  CHECK(cluster.Post("/v1/chat/completions", Chat(3, false))->status == 429);
}
