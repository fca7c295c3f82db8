// The fairness queue end to end: with one slot per model, waiting requests run lightest
// principal first (FIFO within one), a higher priority class before any usage, a full queue
// refuses at once (429), a wait past the queue timeout is a 503, and a client that leaves is
// dropped from the queue at once — none of these reach an engine.
#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

const std::string kShort =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hi"}],"max_tokens":3})";
const std::string kFairnessStream =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Write a long story."}],"max_tokens":5000,"ignore_eos":true,"stream":true})";

std::string RawPost(const std::string& body, const std::string& extra_headers) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

ClusterSpec FairSpec(const std::string& fairness, const std::string& extra = "") {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.extra_settings = "  rateLimitUserHeader: x-user-id\n  fairness: " + fairness + "\n" + extra;
  return spec;
}

double Metric(const Cluster& cluster, const std::string& series) {
  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  if (!metrics.ok() || metrics->status != 200) return -1;
  return MetricValue(metrics->body, series);
}

double Queued(const Cluster& cluster) {
  return Metric(cluster, "pdgate_fairness_queued{model=\"" + kModel + "\"}");
}

// A long stream that holds the model's only slot until Close().
struct Holder {
  Holder(Cluster& cluster, const std::string& headers) : connection(cluster.router_port()) {
    REQUIRE(connection.connected());
    REQUIRE(connection.Send(RawPost(kFairnessStream, headers)));
    REQUIRE(connection.ReadUntil("\"content\"", 10s));
  }
  RawConnection connection;
};

// Requests sent from threads; the order in which their answers came back.
struct Finishes {
  std::mutex mutex;
  std::vector<std::string> order;
  std::vector<int> statuses;
  std::vector<std::thread> threads;

  void Send(Cluster& cluster, const std::string& name,
            std::vector<std::pair<std::string, std::string>> headers) {
    threads.emplace_back([this, &cluster, name, headers] {
      auto response = cluster.Post("/v1/chat/completions", kShort, headers, 30s);
      std::lock_guard lock(mutex);
      order.push_back(name);
      statuses.push_back(response.ok() ? response->status : 0);
    });
  }
  void Join() {
    for (auto& t : threads) t.join();
    threads.clear();
  }
};

}  // namespace

TEST_CASE("fairness: the lightest principal's waiting request runs first, FIFO within one") {
  Cluster cluster(FairSpec("{enabled: true, maxConcurrent: 1}"));
  Holder holder(cluster, "x-user-id: heavy\r\n");
  Finishes finishes;
  finishes.Send(cluster, "heavy-1", {{"x-user-id", "heavy"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 1; }, 5s));
  finishes.Send(cluster, "heavy-2", {{"x-user-id", "heavy"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 2; }, 5s));
  finishes.Send(cluster, "light", {{"x-user-id", "light"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 3; }, 5s));
  CHECK(cluster.Stat(0, "/requests/plain") == 1);  // only the holder reached the engine

  holder.connection.Close();  // frees the slot
  finishes.Join();
  CHECK(finishes.order == std::vector<std::string>{"light", "heavy-1", "heavy-2"});
  CHECK(finishes.statuses == std::vector<int>{200, 200, 200});
  const std::string labels = "{model=\"" + kModel + "\",result=";
  CHECK(Metric(cluster, "pdgate_fairness_requests_total" + labels + "\"ran_after_wait\"}") == 3);
  CHECK(Metric(cluster, "pdgate_fairness_requests_total" + labels + "\"ran_at_once\"}") == 1);
  CHECK(Queued(cluster) == 0);
  CHECK(Eventually(
      [&] { return Metric(cluster, "pdgate_fairness_running{model=\"" + kModel + "\"}") == 0; },
      5s));
}

TEST_CASE("fairness: a higher priority class (from the API key) runs before a lighter principal") {
  const std::string keys =
      "  auth:\n    apiKeys:\n"
      "    - {id: batch, key: sk-batch-0123456789abcdef, user: batch, priorityClass: low}\n"
      "    - {id: vip, key: sk-vip-0123456789abcdefgh, user: vip, priorityClass: critical}\n";
  Cluster cluster(FairSpec("{enabled: true, maxConcurrent: 1}", keys));
  // vip holds the slot (and so has the larger usage); batch then vip wait.
  Holder holder(cluster, "Authorization: Bearer sk-vip-0123456789abcdefgh\r\n");
  Finishes finishes;
  finishes.Send(cluster, "batch", {{"Authorization", "Bearer sk-batch-0123456789abcdef"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 1; }, 5s));
  finishes.Send(cluster, "vip", {{"Authorization", "Bearer sk-vip-0123456789abcdefgh"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 2; }, 5s));
  holder.connection.Close();
  finishes.Join();
  CHECK(finishes.order == std::vector<std::string>{"vip", "batch"});
  CHECK(finishes.statuses == std::vector<int>{200, 200});
}

TEST_CASE("fairness: a full queue is a 429, a client that leaves is dropped, a timeout is a 503") {
  Cluster cluster(FairSpec("{enabled: true, maxConcurrent: 1, maxQueued: 1, queueTimeout: 1s}"));
  Holder holder(cluster, "x-user-id: a\r\n");

  RawConnection waiting(cluster.router_port());
  REQUIRE(waiting.connected());
  REQUIRE(waiting.Send(RawPost(kShort, "x-user-id: b\r\n")));
  REQUIRE(Eventually([&] { return Queued(cluster) == 1; }, 5s));

  auto full = cluster.Post("/v1/chat/completions", kShort, {{"x-user-id", "c"}});
  REQUIRE(full.ok());
  INFO(full->body);
  CHECK(full->status == 429);
  CHECK(full->body.find(R"("code":"queue_full")") != std::string::npos);
  CHECK(full->Header("retry-after") == "1");

  // The waiting client hangs up: its place is free at once.
  waiting.Close();
  CHECK(Eventually([&] { return Queued(cluster) == 0; }, 500ms));

  const auto start = std::chrono::steady_clock::now();
  auto late = cluster.Post("/v1/chat/completions", kShort, {{"x-user-id", "d"}});
  const auto waited = std::chrono::steady_clock::now() - start;
  REQUIRE(late.ok());
  INFO(late->body);
  CHECK(late->status == 503);
  CHECK(late->body.find(R"("code":"queue_timeout")") != std::string::npos);
  CHECK(late->Header("retry-after") == "1");
  CHECK(waited >= 900ms);
  CHECK(waited < 5s);

  CHECK(cluster.Stat(0, "/requests/plain") == 1);  // only the holder reached the engine
  const std::string labels = "{model=\"" + kModel + "\",result=";
  CHECK(Metric(cluster, "pdgate_fairness_requests_total" + labels + "\"queue_full\"}") == 1);
  CHECK(Metric(cluster, "pdgate_fairness_requests_total" + labels + "\"queue_timeout\"}") == 1);
  CHECK(Eventually(
      [&] {
        return Metric(cluster, "pdgate_fairness_requests_total" + labels + "\"client_gone\"}") == 1;
      },
      2s));
}

TEST_CASE("fairness: a reload that turns it off lets the waiting requests run at once") {
  Cluster cluster(FairSpec("{enabled: true, maxConcurrent: 1}"));
  Holder holder(cluster, "x-user-id: a\r\n");
  Finishes finishes;
  finishes.Send(cluster, "b", {{"x-user-id", "b"}});
  finishes.Send(cluster, "c", {{"x-user-id", "c"}});
  REQUIRE(Eventually([&] { return Queued(cluster) == 2; }, 5s));

  std::ifstream in(cluster.config_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string yaml = text.str();
  const size_t at = yaml.find("enabled: true");
  REQUIRE(at != std::string::npos);
  yaml.replace(at, 13, "enabled: false");
  std::ofstream(cluster.config_path()) << yaml;
  // Both run while the holder still holds the only slot the old settings had.
  finishes.Join();
  CHECK(finishes.statuses == std::vector<int>{200, 200});
  CHECK(Metric(cluster, "pdgate_config_reloads_total{result=\"success\"}") >= 1);
}
