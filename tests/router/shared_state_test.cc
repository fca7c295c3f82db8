// sharedState: two pdgate replicas in front of the same two engines share their in-flight counts
// through a real redis-server, so that the second routes around load the first created; a replica
// that dies leaves no counts behind.
#include <catch2/catch.hpp>
#include <csignal>

#include "router/server/shared_load_sync.h"
#include "tests/router/limits/redis_server.h"
#include "tests/router/pd_cluster.h"
#include "tests/router/raw_connection.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;
using pdgate::limits::testing::RedisServer;

namespace {

const std::string kShort =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hi"}],"max_tokens":2})";
const std::string kSharedStream =
    R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Write a long story."}],"max_tokens":5000,"ignore_eos":true,"stream":true})";

ClusterSpec SharedSpec(const RedisServer& redis) {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}, {"", "", {}}};
  // Least-request alone: the pick depends on in-flight counts only.
  spec.extra_settings = "  sharedState: {redis: {address: \"" + redis.address() +
                        "\"}, syncInterval: 20ms}\n"
                        "  scheduler:\n    plugins:\n      Score:\n        enabled:\n"
                        "          - {name: least-request, weight: 1}\n";
  return spec;
}

// The other replicas' decode legs on `pod` as `admin_port`'s /debug/endpoints shows them.
double RemoteDecodes(uint16_t admin_port, const std::string& pod) {
  auto response = HttpRequest("127.0.0.1", admin_port, "GET", "/debug/endpoints");
  if (!response.ok()) return -1;
  const size_t at = response->body.find("\"pod\":\"dev/" + pod + "\"");
  if (at == std::string::npos) return -1;
  const std::string key = "\"remoteInFlight\":{\"prefill\":";
  const size_t remote = response->body.find(key, at);
  if (remote == std::string::npos) return -1;
  const size_t decode = response->body.find("\"decode\":", remote);
  return std::stod(response->body.substr(decode + 9));
}

// A second pdgate on the first one's configuration: the same endpoints, another process.
struct Replica {
  explicit Replica(Cluster& cluster) {
    // Started again on other ports when a parallel test took one first (pdgate exits at once).
    for (int attempt = 0; attempt < 3; ++attempt) {
      port = FreePort();
      admin_port = FreePort();
      auto started =
          ChildProcess::Start({BinaryPath("pdgate"), "--config", cluster.config_path(), "--port",
                               std::to_string(port), "--admin-port", std::to_string(admin_port)});
      REQUIRE(started.ok());
      process.emplace(std::move(*started));
      if (WaitForHttpStatus("127.0.0.1", admin_port, "/readyz", 200, 10s)) return;
      if (process->Stdout().find("Address already in use") == std::string::npos) break;
    }
    FAIL("the second replica did not come up: " << process->Stdout());
  }
  uint16_t port = 0;
  uint16_t admin_port = 0;
  std::optional<ChildProcess> process;
};

std::string RawPost(const std::string& body) {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

TEST_CASE("sharedState: a replica routes around the load another replica put on an endpoint") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster a(SharedSpec(*redis));
  Replica b(a);

  // Replica A holds a long stream on one of the two engines.
  RawConnection holder(a.router_port());
  REQUIRE(holder.connected());
  REQUIRE(holder.Send(RawPost(kSharedStream)));
  REQUIRE(holder.ReadUntil("\"content\"", 10s));
  const size_t busy = a.Stat(0, "/running") == 1 ? 0 : 1;
  const size_t idle = 1 - busy;
  REQUIRE(a.Stat(busy, "/running") == 1);
  const std::string busy_pod = "pod-" + std::to_string(busy);
  const std::string idle_pod = "pod-" + std::to_string(idle);

  // Replica B sees it...
  REQUIRE(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 1; }, 5s));
  CHECK(RemoteDecodes(b.admin_port, idle_pod) == 0);
  // ...and sends its own requests to the other engine.
  const double idle_before = a.Stat(idle, "/requests/plain");
  const double busy_before = a.Stat(busy, "/requests/plain");
  for (int i = 0; i < 6; ++i) {
    auto response = HttpRequest("127.0.0.1", b.port, "POST", "/v1/chat/completions", kShort,
                                {{"Content-Type", "application/json"}});
    REQUIRE(response.ok());
    CHECK(response->status == 200);
  }
  CHECK(a.Stat(idle, "/requests/plain") == idle_before + 6);
  CHECK(a.Stat(busy, "/requests/plain") == busy_before);

  // The stream ends: B's view follows.
  holder.Close();
  CHECK(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 0; }, 5s));
  auto metrics = HttpRequest("127.0.0.1", b.admin_port, "GET", "/metrics");
  REQUIRE(metrics.ok());
  CHECK(MetricValue(metrics->body, "pdgate_shared_state_syncs_total{result=\"ok\"}") > 0);
}

TEST_CASE(
    "sharedState: a replica that dies leaves no counts, and Redis down clears the remote view") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster a(SharedSpec(*redis));
  Replica b(a);
  RawConnection holder(a.router_port());
  REQUIRE(holder.connected());
  REQUIRE(holder.Send(RawPost(kSharedStream)));
  REQUIRE(holder.ReadUntil("\"content\"", 10s));
  const std::string busy_pod = a.Stat(0, "/running") == 1 ? "pod-0" : "pod-1";
  REQUIRE(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 1; }, 5s));

  SECTION("replica A is killed: its published counts expire") {
    a.router().Signal(SIGKILL);
    CHECK(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 0; }, 3s));
  }
  SECTION("Redis is killed: B routes on its own view, and shares again once Redis is back") {
    redis->Kill();
    CHECK(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 0; }, 3s));
    auto metrics = HttpRequest("127.0.0.1", b.admin_port, "GET", "/metrics");
    REQUIRE(metrics.ok());
    CHECK(MetricValue(metrics->body, "pdgate_shared_state_syncs_total{result=\"error\"}") > 0);
    auto served = HttpRequest("127.0.0.1", b.port, "POST", "/v1/chat/completions", kShort,
                              {{"Content-Type", "application/json"}});
    REQUIRE(served.ok());
    CHECK(served->status == 200);
    REQUIRE(redis->Restart().ok());
    CHECK(Eventually([&] { return RemoteDecodes(b.admin_port, busy_pod) == 1; }, 10s));
  }
}

TEST_CASE("sharedState: the other replicas' hashes are summed per endpoint") {
  using pdgate::limits::RedisReply;
  auto text = [](std::string s) {
    RedisReply r;
    r.type = RedisReply::Type::kString;
    r.str = std::move(s);
    return r;
  };
  auto array = [](std::vector<RedisReply> elements) {
    RedisReply r;
    r.type = RedisReply::Type::kArray;
    r.elements = std::move(elements);
    return r;
  };
  const RedisReply reply = array(
      {text("r1"), array({text("_"), text("1"), text("dev/p@a:1"), text("1 2 300")}), text("r2"),
       array({text("_"), text("1"), text("dev/p@a:1"), text("0 1 0"), text("dev/q@b:1"),
              text("2 0 50")})});
  auto sums = pdgate::router::SumReplicaLoads(reply);
  REQUIRE(sums.ok());
  REQUIRE(sums->size() == 2);
  CHECK(sums->at("dev/p@a:1").prefill == 1);
  CHECK(sums->at("dev/p@a:1").decode == 3);
  CHECK(sums->at("dev/p@a:1").prefill_tokens == 300);
  CHECK(sums->at("dev/q@b:1").prefill == 2);
  CHECK_FALSE(
      pdgate::router::SumReplicaLoads(array({text("r1"), array({text("x"), text("1 2")})})).ok());
  CHECK_FALSE(pdgate::router::SumReplicaLoads(array({text("r1")})).ok());
}
