// Kthena's `rateLimit.global.redis`: one budget for every pdgate replica, kept in a real
// redis-server, and what happens when Redis goes away (rateLimitRedis.onError).
#include <catch2/catch.hpp>
#include <thread>

#include "tests/router/limits/redis_server.h"
#include "tests/router/pd_cluster.h"
#include "tests/support/eventually.h"
#include "tests/router/router_test_util.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;
using pdgate::limits::testing::RedisServer;

namespace {

std::string Chat(int max_tokens) {
  return R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hi"}],"max_tokens":)" +
         std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":true})";
}

ClusterSpec GlobalSpec(uint16_t redis_port, const std::string& on_error = "local") {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.route_extra = "  rateLimit:\n    outputTokensPerUnit: 20\n    unit: hour\n"
                     "    global: {redis: {address: \"127.0.0.1:" +
                     std::to_string(redis_port) + "\"}}\n";
  spec.extra_settings = "  rateLimitRedis: {onError: " + on_error + ", timeout: 200ms}\n";
  return spec;
}

int Status(Cluster& cluster, int max_tokens) {
  auto response = cluster.Post("/v1/chat/completions", Chat(max_tokens));
  return response.ok() ? response->status : 0;
}

double RedisErrors(const Cluster& cluster) {
  auto metrics = HttpRequest("127.0.0.1", cluster.admin_port(), "GET", "/metrics");
  return metrics.ok() ? MetricValue(metrics->body, "pdgate_ratelimit_redis_errors_total") : -1;
}

// A replica sends an answer's debit to Redis up to 5 ms after the answer (it rides with the next
// check, or a timer sends it): another replica sees it once the key is there.
bool InRedis(uint16_t port, const std::string& key) {
  auto result = RunCommand({"redis-cli", "-p", std::to_string(port), "EXISTS", key}, 5s);
  return result.ok() && result->out.starts_with("1");
}

}  // namespace

TEST_CASE("global rateLimit: two replicas share one budget in Redis") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster a(GlobalSpec(redis->port()));
  Cluster b(GlobalSpec(redis->port()));
  REQUIRE(Status(a, 15) == 200);
  REQUIRE(Eventually([&] { return InRedis(redis->port(), "pdgate:rl:{dev/route}:output"); }, 5s));
  // 5 tokens left of 20, in Redis: the other replica admits one more request, which streams 15.
  auto second = b.Post("/v1/chat/completions", Chat(15));
  REQUIRE(second.ok());
  CHECK(second->status == 200);
  CHECK(second->Header("x-ratelimit-remaining-output-tokens") == "5");
  // Its 15 tokens are charged in Redis after the answer: the first replica now refuses.
  CHECK(Eventually([&] { return Status(a, 1) == 429; }, 5s));
  auto refused = a.Post("/v1/chat/completions", Chat(1));
  REQUIRE(refused.ok());
  INFO(refused->body);
  CHECK(refused->body.find("on output tokens per hour: Limit 20") != std::string::npos);
  CHECK(refused->Header("x-ratelimit-remaining-output-tokens") == "0");
  CHECK(RedisErrors(a) == 0);
}

TEST_CASE("global rateLimit: with Redis gone, each replica falls back to its own bucket") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster cluster(GlobalSpec(redis->port()));
  REQUIRE(Status(cluster, 20) == 200);  // the shared budget is spent
  CHECK(Eventually([&] { return Status(cluster, 1) == 429; }, 5s));
  redis->Kill();
  // The local bucket stands in: fresh, so one request passes, and then it limits too.
  CHECK(Status(cluster, 20) == 200);
  CHECK(Status(cluster, 1) == 429);
  CHECK(RedisErrors(cluster) >= 2);
  // Redis back (empty): the shared budget again.
  REQUIRE(redis->Restart().ok());
  CHECK(Eventually([&] { return Status(cluster, 1) == 200; }, 10s));
}

TEST_CASE("global rateLimit: onError deny refuses with 503 while Redis is gone") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster cluster(GlobalSpec(redis->port(), "deny"));
  REQUIRE(Status(cluster, 1) == 200);
  redis->Kill();
  auto refused = cluster.Post("/v1/chat/completions", Chat(1));
  REQUIRE(refused.ok());
  INFO(refused->body);
  CHECK(refused->status == 503);
  CHECK(refused->body.find(R"("code":"rate_limiter_unavailable")") != std::string::npos);
  CHECK(refused->Header("retry-after") == "1");
  CHECK(cluster.Stat(0, "/requests/plain") == 1);
}

TEST_CASE("global rateLimit: onError allow lets requests through while Redis is gone") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster cluster(GlobalSpec(redis->port(), "allow"));
  REQUIRE(Status(cluster, 20) == 200);
  CHECK(Eventually([&] { return Status(cluster, 1) == 429; }, 5s));
  redis->Kill();
  CHECK(Status(cluster, 20) == 200);
  CHECK(Status(cluster, 20) == 200);
}
