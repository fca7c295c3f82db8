// What operators read: pdgate_upstream_connections (exact: active while legs hold connections,
// idle while pooled, 0 after upstreamPoolIdle), token counts of non-streamed responses in
// /metrics and the access log, and the text access-log format.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"
#include "tests/router/router_test_util.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

const std::string kModelLabel = R"(model="deepseek-ai/DeepSeekV2")";

double Connections(const std::string& metrics, const std::string& state) {
  return MetricValue(metrics, R"(pdgate_upstream_connections{state=")" + state + R"("})");
}

// Polls /metrics until `done` holds; returns the last exposition seen (for INFO).
bool WaitForMetrics(const Cluster& cluster, const std::function<bool(const std::string&)>& done,
                    std::chrono::milliseconds timeout, std::string& last) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    last = Metrics(cluster);
    if (done(last)) return true;
    std::this_thread::sleep_for(10ms);  // poll interval
  }
  return false;
}

// The access log line that contains `needle`, polled for (the writer thread appends later).
std::string WaitForLogLine(const std::string& path, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = ReadText(path);
    const size_t at = text.find(needle);
    if (at != std::string::npos) {
      const size_t start = text.rfind('\n', at);
      const size_t from = start == std::string::npos ? 0 : start + 1;
      return text.substr(from, text.find('\n', at) - from);
    }
    std::this_thread::sleep_for(20ms);  // poll interval
  }
  return {};
}

std::string LogPath(const std::string& name) {
  return "/tmp/pdgate-" + name + "-" + std::to_string(getpid()) + ".log";
}

const std::string kCountingChat =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Count the tokens, please."}],"max_tokens":9,"ignore_eos":true})";

}  // namespace

TEST_CASE("pdgate_upstream_connections: active while legs run, idle when pooled, 0 after idle") {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings = "  timeouts: {upstreamPoolIdle: 1s}\n";
  Cluster cluster(spec);
  std::string metrics = Metrics(cluster);
  INFO(metrics);
  CHECK(Connections(metrics, "active") == 0);
  CHECK(Connections(metrics, "idle") == 0);

  for (int i = 0; i < 3; ++i) {
    auto response = cluster.Post("/v1/chat/completions", kCountingChat);
    REQUIRE(response.ok());
    REQUIRE(response->status == 200);
  }
  // Both legs' connections went back to a pool: none active, some idle (one or two per leg,
  // depending on which io thread served each request), never more than the legs made.
  std::string last;
  CHECK(WaitForMetrics(
      cluster,
      [](const std::string& m) {
        return Connections(m, "active") == 0 && Connections(m, "idle") > 0;
      },
      900ms, last));
  INFO(last);
  CHECK(Connections(last, "idle") <= 4);

  // upstreamPoolIdle later, the pruner has closed them.
  CHECK(WaitForMetrics(
      cluster,
      [](const std::string& m) {
        return Connections(m, "active") == 0 && Connections(m, "idle") == 0;
      },
      5s, last));

  // A stream holds its decode connection: active while it runs; the client leaving closes it.
  {
    const std::string body =
        R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"A long story."}],"max_tokens":2000,"ignore_eos":true,"stream":true})";
    RawConnection client(cluster.router_port());
    REQUIRE(client.Send(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(body.size()) + "\r\n\r\n" + body));
    REQUIRE(client.ReadUntil("\"content\":", 10s));
    metrics = Metrics(cluster);
    CHECK(Connections(metrics, "active") == 1);  // the decode leg; the prefill's went idle
    CHECK(Connections(metrics, "idle") <= 1);
  }
  CHECK(WaitForMetrics(
      cluster, [](const std::string& m) { return Connections(m, "active") == 0; }, 5s, last));
  CHECK(WaitForMetrics(
      cluster, [](const std::string& m) { return Connections(m, "idle") == 0; }, 5s, last));
}

TEST_CASE("a non-streamed PD response's usage is counted in /metrics and the access log") {
  const std::string log_path = LogPath("access-usage");
  std::remove(log_path.c_str());
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings = "  accessLog: {output: " + log_path + "}\n";
  Cluster cluster(spec);
  auto response =
      cluster.Post("/v1/chat/completions", kCountingChat, {{"X-Request-Id", "usage-1"}});
  REQUIRE(response.ok());
  REQUIRE(response->status == 200);
  INFO(response->body);
  const std::optional<double> prompt = JsonNumberAt(response->body, "/usage/prompt_tokens");
  const std::optional<double> completion = JsonNumberAt(response->body, "/usage/completion_tokens");
  REQUIRE(prompt.has_value());
  REQUIRE(completion == 9);
  CHECK(*prompt > 0);

  const std::string line = WaitForLogLine(log_path, R"("request_id":"usage-1")");
  REQUIRE_FALSE(line.empty());
  INFO(line);
  CHECK(JsonNumberAt(line, "/input_tokens") == *prompt);
  CHECK(JsonNumberAt(line, "/output_tokens") == 9);

  // Counted once the response ended; the line is written after that.
  const std::string metrics = Metrics(cluster);
  INFO(metrics);
  CHECK(MetricValue(metrics, "pdgate_tokens_total{" + kModelLabel + R"(,type="prompt"})") ==
        *prompt);
  CHECK(MetricValue(metrics, "pdgate_tokens_total{" + kModelLabel + R"(,type="completion"})") == 9);
  std::remove(log_path.c_str());
}

TEST_CASE("the text access log: one line per request with endpoints, attempts and tokens") {
  const std::string log_path = LogPath("access-text");
  std::remove(log_path.c_str());
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings = "  accessLog: {format: text, output: " + log_path + "}\n";
  Cluster cluster(spec);
  auto response = cluster.Post("/v1/chat/completions", kCountingChat, {{"X-Request-Id", "text-1"}});
  REQUIRE(response.ok());
  REQUIRE(response->status == 200);
  const std::optional<double> prompt = JsonNumberAt(response->body, "/usage/prompt_tokens");
  REQUIRE(prompt.has_value());

  const std::string line = WaitForLogLine(log_path, " id=text-1");
  REQUIRE_FALSE(line.empty());
  INFO(line);
  CHECK(line.rfind("POST /v1/chat/completions 200 ", 0) == 0);
  for (const std::string& field :
       {std::string("model=deepseek-ai/DeepSeekV2"), std::string("server=dev/pd"),
        std::string("prefill=dev/pod-0"), std::string("decode=dev/pod-1"),
        std::string("decision=disaggregated"), std::string("attempts=1"),
        std::string("upstream=prefill:200,decode:200"), std::string("error_origin=-"),
        "input_tokens=" + std::to_string(int64_t(*prompt)), std::string("output_tokens=9")}) {
    CHECK(line.find(" " + field + " ") != std::string::npos);
  }
  CHECK(line.find('{') == std::string::npos);  // not JSON
  // One request, one line.
  const std::string text = ReadText(log_path);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);
  std::remove(log_path.c_str());
}
