// Operating pdgate: SIGTERM drains (readiness 503 at once, listeners closed after drainDelay,
// requests in flight finish, exit 0); a second signal exits at once.
#include <signal.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

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
  // Ready once the first scrape pass is done: waited for, not assumed (a loaded machine is slow).
  CHECK(WaitForHttpStatus("127.0.0.1", cluster.admin_port(), "/readyz", 200, 10s));
  auto unknown = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/nothing");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);
}

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
  CHECK(MetricValue(text, "pdgate_pd_decisions_total{decision=\"disaggregated\"," + model +
                              ",reason=\"decider_off\"}") == 1);
  CHECK(MetricValue(text, "pdgate_leg_duration_seconds_count{leg=\"prefill\"," + model + "}") == 1);
  CHECK(MetricValue(text, "pdgate_leg_duration_seconds_count{leg=\"decode\"," + model + "}") == 1);
  CHECK(MetricValue(text, "pdgate_inter_token_latency_seconds_count{" + model + "}") >= 1);
  CHECK(MetricValue(text, "pdgate_scheduler_pick_duration_seconds_count") == 1);
  CHECK(text.find("pdgate_build_info{") != std::string::npos);
  CHECK(ok->body.find("\"choices\":[]") == std::string::npos);
}

namespace {

// Replaces the file the way editors and ConfigMap updates do: a new file renamed over the old.
void WriteAtomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".new";
  std::ofstream(temporary) << text;
  std::rename(temporary.c_str(), path.c_str());
}

// The Pod documents of pods `from`..`to` removed from a cluster's configuration.
std::string WithoutPods(std::string yaml, const std::vector<int>& pods) {
  for (int pod : pods) {
    const std::string marker =
        "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-" + std::to_string(pod) + "\n";
    const size_t start = yaml.find(marker);
    REQUIRE(start != std::string::npos);
    const size_t end = yaml.find("---\n", start + 4);
    yaml.erase(start, end - start);
  }
  return yaml;
}

double Reloads(const Cluster& cluster, const std::string& result) {
  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  if (!metrics.ok()) return -1;
  return MetricValue(metrics->body, R"(pdgate_config_reloads_total{result=")" + result + R"("})");
}

bool WaitForReloads(const Cluster& cluster, const std::string& result, double count) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Reloads(cluster, result) == count) return true;
    std::this_thread::sleep_for(20ms);  // poll interval
  }
  return false;
}

// Whether /metrics has a pdgate_upstream_requests_total series of `pod` (−1: no answer).
int HasEndpointSeries(const Cluster& cluster, const std::string& pod) {
  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  if (!metrics.ok()) return -1;
  return metrics->body.find("pdgate_upstream_requests_total{endpoint=\"" + pod + "\"") !=
         std::string::npos;
}

}  // namespace

TEST_CASE(
    "hot reload: pods come and go without a restart, an invalid file is refused, no request "
    "fails") {
  ClusterSpec spec;
  spec.pods = {
      {"g0", "prefill", {}}, {"g0", "decode", {}}, {"g1", "prefill", {}}, {"g1", "decode", {}}};
  Cluster cluster(spec);
  const std::string full = ReadText(cluster.config_path());
  const std::string body =
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"hi"}],"max_tokens":4})";

  // Requests run throughout; none may fail.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0}, done{0};
  std::thread load([&] {
    while (!stop) {
      auto response = cluster.Post("/v1/chat/completions", body);
      ++sent;
      if (!response.ok() || response->status != 200) ++failed;
      ++done;
    }
  });
  // A request that began before a swap finishes on the old state; wait for those to end.
  auto settle = [&] {
    const int target = done + 2;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (done < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);  // poll interval
    }
  };

  // Only g0: g1's pods leave.
  WriteAtomically(cluster.config_path(), WithoutPods(full, {2, 3}));
  REQUIRE(WaitForReloads(cluster, "success", 1));
  settle();
  const double g1_before = cluster.Stat(3, "/requests/decode");
  const double g0_before = cluster.Stat(1, "/requests/decode");
  for (int i = 0; i < 10; ++i) REQUIRE(cluster.Post("/v1/chat/completions", body)->status == 200);
  CHECK(cluster.Stat(3, "/requests/decode") == g1_before);  // removed: no traffic
  CHECK(cluster.Stat(1, "/requests/decode") >= g0_before + 10);

  // Only g1: g0's pods leave, g1's come back.
  CHECK(HasEndpointSeries(cluster, "dev/pod-1") == 1);
  WriteAtomically(cluster.config_path(), WithoutPods(full, {0, 1}));
  REQUIRE(WaitForReloads(cluster, "success", 2));
  settle();
  const double g0_after = cluster.Stat(1, "/requests/decode");
  const double g1_after = cluster.Stat(3, "/requests/decode");
  for (int i = 0; i < 10; ++i) REQUIRE(cluster.Post("/v1/chat/completions", body)->status == 200);
  CHECK(cluster.Stat(3, "/requests/decode") >= g1_after + 10);  // added: it gets the traffic
  CHECK(cluster.Stat(1, "/requests/decode") == g0_after);
  // The series of the pods that left go with the last state that had them (a rollout must not
  // leave one set per old pod name behind for ever).
  CHECK(Eventually([&] { return HasEndpointSeries(cluster, "dev/pod-1") == 0; }, 10s));
  CHECK(HasEndpointSeries(cluster, "dev/pod-3") == 1);

  // An invalid file is refused; the last good configuration serves on.
  std::string broken = WithoutPods(full, {0, 1});
  broken.replace(broken.find("inferenceEngine: vLLM"), 21, "inferenceEngine: TGI");
  WriteAtomically(cluster.config_path(), broken);
  REQUIRE(WaitForReloads(cluster, "failure", 1));
  settle();
  CHECK(Reloads(cluster, "success") == 2);
  for (int i = 0; i < 5; ++i) REQUIRE(cluster.Post("/v1/chat/completions", body)->status == 200);
  CHECK(cluster.Stat(3, "/requests/decode") >= g1_after + 15);

  // Back to the full file; then SIGHUP alone reloads too (the file is unchanged).
  WriteAtomically(cluster.config_path(), full);
  REQUIRE(WaitForReloads(cluster, "success", 3));
  cluster.router().Signal(SIGHUP);
  CHECK(WaitForReloads(cluster, "success", 4));

  stop = true;
  load.join();
  CHECK(sent > 0);
  CHECK(failed == 0);
}

TEST_CASE("the access log line of a PD request carries both endpoints and plausible timings") {
  const std::string log_path = "/tmp/pdgate-access-" + std::to_string(getpid()) + ".log";
  std::remove(log_path.c_str());
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}};
  spec.extra_settings = "  accessLog: {output: " + log_path + "}\n";
  Cluster cluster(spec);
  const std::string body =
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"ignore_eos":true,"stream":true})";
  auto response = cluster.Post("/v1/chat/completions", body, {{"X-Request-Id", "access-1"}});
  REQUIRE(response.ok());
  REQUIRE(response->status == 200);
  // The writer thread appends asynchronously: poll for the line.
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (line.empty() && std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadText(log_path);
    size_t at = text.find(R"({"request_id":"access-1")");
    if (at != std::string::npos) line = text.substr(at, text.find('\n', at) - at);
    if (line.empty()) std::this_thread::sleep_for(20ms);  // poll interval
  }
  REQUIRE_FALSE(line.empty());
  INFO(line);
  CHECK(line.find(R"("prefill":"dev/pod-0")") != std::string::npos);
  CHECK(line.find(R"("decode":"dev/pod-1")") != std::string::npos);
  CHECK(line.find(R"("server":"dev/pd")") != std::string::npos);
  CHECK(line.find(R"("route":"dev/route")") != std::string::npos);
  CHECK(line.find(R"("upstream_statuses":"prefill:200,decode:200")") != std::string::npos);
  CHECK(JsonNumberAt(line, "/status") == 200);
  CHECK(JsonNumberAt(line, "/attempts") == 1);
  CHECK(JsonNumberAt(line, "/output_tokens") == 5);
  const double ttft = JsonNumberAt(line, "/ttft_ms").value_or(-1);
  const double prefill = JsonNumberAt(line, "/prefill_ms").value_or(-1);
  const double decode = JsonNumberAt(line, "/decode_ms").value_or(-1);
  const double total = JsonNumberAt(line, "/total_ms").value_or(-1);
  CHECK(prefill > 0);
  CHECK(ttft > prefill);  // the first token comes after the prefill leg
  CHECK(decode > 0);
  CHECK(total >= prefill + decode - 1);
  CHECK(total < 10000);
  std::remove(log_path.c_str());
}

TEST_CASE("/debug/config, /debug/routes and /debug/endpoints describe the running state") {
  ClusterSpec spec;
  spec.pods = {{"g0", "prefill", {}}, {"g0", "decode", {}}, {"g1", "prefill", {}}};
  Cluster cluster(spec);
  auto get = [&](const std::string& path) {
    auto response = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", path);
    REQUIRE(response.ok());
    REQUIRE(response->status == 200);
    REQUIRE(JsonNumberAt(response->body, "/nothing") == std::nullopt);  // it parses as JSON
    return response->body;
  };
  const std::string config = get("/debug/config");
  CHECK(JsonNumberAt(config, "/listen/adminPort") == cluster.admin_port());
  CHECK(JsonNumberAt(config, "/timeoutsMs/drainDelay") == 5000);
  CHECK(JsonNumberAt(config, "/pods") == 3);
  const std::string routes = get("/debug/routes");
  CHECK(routes.find(R"("route":"dev/route")") != std::string::npos);
  CHECK(routes.find(R"("modelServer":"pd","weight":1,"exists":true)") != std::string::npos);
  const std::string endpoints = get("/debug/endpoints");
  INFO(endpoints);
  CHECK(endpoints.find(
            R"({"name":"g0","canServe":true,"prefill":["dev/pod-0"],"decode":["dev/pod-1"]})") !=
        std::string::npos);
  CHECK(endpoints.find(R"({"name":"g1","canServe":false,"prefill":["dev/pod-2"],"decode":[]})") !=
        std::string::npos);
}
