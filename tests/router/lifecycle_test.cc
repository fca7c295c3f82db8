// Operating pdgate: SIGTERM drains (readiness 503 at once, listeners closed after drainDelay,
// requests in flight finish, exit 0); a second signal exits at once.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <thread>
#include <vector>

#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

std::string StreamRequest(int max_tokens) {
  const std::string body =
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Tell a story."}],"max_tokens":)" +
      std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":true})";
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

ClusterSpec DrainCluster() {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings = "  timeouts: {drainDelay: 300ms, drain: 30s}\n";
  return spec;
}

bool Connects(uint16_t port) {
  RawConnection probe(port);
  return probe.connected();
}

}  // namespace

TEST_CASE(
    "SIGTERM with 50 streams in flight: readiness 503, new connections refused, all complete") {
  Cluster cluster(DrainCluster());
  std::vector<std::unique_ptr<RawConnection>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<RawConnection>(cluster.router_port()));
    REQUIRE(clients.back()->connected());
    REQUIRE(clients.back()->Send(StreamRequest(60)));
  }
  for (auto& client : clients) REQUIRE(client->ReadUntil("\"content\":\" ", 10s));

  cluster.router().Signal(SIGTERM);
  // Readiness turns at once, on the admin port and the API port.
  CHECK(WaitForHttpStatus("127.0.0.1", cluster.admin_port(), "/readyz", 503, 200ms));
  // After drainDelay the listener is closed: new connections are refused.
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() < deadline) {
    refused = !Connects(cluster.router_port());
    if (!refused) std::this_thread::sleep_for(20ms);  // poll interval
  }
  CHECK(refused);
  // Every stream in flight runs to its end.
  for (auto& client : clients) {
    CHECK(client->ReadUntil("data: [DONE]", 20s));
    CHECK(client->received().find("\"error\"") == std::string::npos);
  }
  const std::optional<int> code = cluster.router().WaitFor(10s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

TEST_CASE("a second signal while draining exits at once") {
  Cluster cluster(DrainCluster());
  RawConnection client(cluster.router_port());
  REQUIRE(client.Send(StreamRequest(2000)));  // tens of seconds of stream
  REQUIRE(client.ReadUntil("\"content\":\" ", 10s));
  cluster.router().Signal(SIGTERM);
  REQUIRE(WaitForHttpStatus("127.0.0.1", cluster.admin_port(), "/readyz", 503, 1s));
  cluster.router().Signal(SIGTERM);
  const std::optional<int> code = cluster.router().WaitFor(2s);
  REQUIRE(code.has_value());
  CHECK(*code == 1);
}

TEST_CASE("the admin port answers probes") {
  Cluster cluster(DrainCluster());
  auto health = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/healthz");
  REQUIRE(health.ok());
  CHECK(health->status == 200);
  auto ready = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/readyz");
  REQUIRE(ready.ok());
  CHECK(ready->status == 200);
  auto unknown = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/nothing");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);
}

namespace {

// The value of one exposition line, e.g. `pdgate_active_requests`, or -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("/metrics counts a PD request: status, duration, TTFT, tokens, legs, active") {
  Cluster cluster(DrainCluster());
  const std::string stream_body =
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"hi"}],"max_tokens":7,"ignore_eos":true,"stream":true})";
  auto ok = cluster.Post("/v1/chat/completions", stream_body);
  REQUIRE(ok.ok());
  REQUIRE(ok->status == 200);
  auto unknown = cluster.Post("/v1/chat/completions", R"({"model":"nope","messages":[]})");
  REQUIRE(unknown.ok());
  REQUIRE(unknown->status == 404);

  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  REQUIRE(metrics.ok());
  REQUIRE(metrics->status == 200);
  const std::string& text = metrics->body;
  INFO(text);
  const std::string model = R"(model="deepseek-ai/DeepSeekV2")";
  CHECK(MetricValue(text, R"(pdgate_requests_total{code="2xx",)" + model +
                              R"(,path="/v1/chat/completions"})") == 1);
  CHECK(MetricValue(
            text,
            R"(pdgate_requests_total{code="4xx",model="other",path="/v1/chat/completions"})") == 1);
  CHECK(MetricValue(text, "pdgate_request_duration_seconds_count{" + model + "}") == 1);
  CHECK(MetricValue(text, "pdgate_time_to_first_token_seconds_count{" + model + "}") == 1);
  // The usage chunk pdgate asked for, though the client never saw it.
  CHECK(MetricValue(text, "pdgate_tokens_total{" + model + R"(,type="completion"})") == 7);
  CHECK(MetricValue(text, "pdgate_tokens_total{" + model + R"(,type="prompt"})") > 0);
  CHECK(
      MetricValue(
          text,
          R"(pdgate_upstream_requests_total{endpoint="dev/pod-0",outcome="ok",role="prefill"})") ==
      1);
  CHECK(MetricValue(
            text,
            R"(pdgate_upstream_requests_total{endpoint="dev/pod-1",outcome="ok",role="decode"})") ==
        1);
  CHECK(MetricValue(text, "pdgate_active_requests") == 0);
  CHECK(text.find("pdgate_build_info{") != std::string::npos);
  CHECK(ok->body.find("\"choices\":[]") == std::string::npos);
}
