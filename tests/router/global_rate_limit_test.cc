// Kthena's `rateLimit.global.redis`, and the same on `rateLimits` entries: one budget for every
// pdgate replica, kept in a real redis-server, and what happens when Redis goes away
// (rateLimitRedis.onError).
#include <catch2/catch.hpp>
#include <sstream>
#include <thread>

#include "tests/router/limits/redis_server.h"
#include "tests/router/pd_cluster.h"
#include "tests/router/router_test_util.h"
#include "tests/support/eventually.h"

using namespace pdgate::testing;
using namespace std::chrono_literals;
using pdgate::limits::testing::RedisServer;

namespace {

std::string Chat(int max_tokens) {
  return R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Hi"}],"max_tokens":)" +
         std::to_string(max_tokens) + R"(,"ignore_eos":true,"stream":true})";
}

ClusterSpec GlobalSpec(const RedisServer& redis, const std::string& on_error = "local") {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.route_extra =
      "  rateLimit:\n    outputTokensPerUnit: 20\n    unit: hour\n"
      "    global: {redis: {address: \"" +
      redis.address() + "\"}}\n";
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
std::vector<std::string> RedisCli(const RedisServer& redis, std::vector<std::string> command) {
  std::vector<std::string> argv{"redis-cli", "-h", redis.host(), "-p",
                                std::to_string(redis.port())};
  argv.insert(argv.end(), command.begin(), command.end());
  return argv;
}

bool InRedis(const RedisServer& redis, const std::string& key) {
  auto result = RunCommand(RedisCli(redis, {"EXISTS", key}), 5s);
  return result.ok() && result->out.starts_with("1");
}

}  // namespace

TEST_CASE("global rateLimit: two replicas share one budget in Redis") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster a(GlobalSpec(*redis));
  Cluster b(GlobalSpec(*redis));
  REQUIRE(Status(a, 15) == 200);
  REQUIRE(Eventually([&] { return InRedis(*redis, "pdgate:rl:{dev/route}:output"); }, 5s));
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
  Cluster cluster(GlobalSpec(*redis));
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
  Cluster cluster(GlobalSpec(*redis, "deny"));
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
  Cluster cluster(GlobalSpec(*redis, "allow"));
  REQUIRE(Status(cluster, 20) == 200);
  CHECK(Eventually([&] { return Status(cluster, 1) == 429; }, 5s));
  redis->Kill();
  CHECK(Status(cluster, 20) == 200);
  CHECK(Status(cluster, 20) == 200);
}

namespace {

ClusterSpec PrincipalSpec(const std::string& limits) {
  ClusterSpec spec;
  spec.kv_connector = "";
  spec.pods = {{"", "", {}}};
  spec.extra_settings =
      "  rateLimitUserHeader: x-user-id\n  rateLimitRedis: {timeout: 200ms}\n"
      "  rateLimits:\n" +
      limits;
  return spec;
}

std::string GlobalRedis(const RedisServer& redis) {
  return "global: {redis: {address: \"" + redis.address() + "\"}}";
}

int StatusAs(Cluster& cluster, const std::string& user) {
  auto response = cluster.Post("/v1/chat/completions", Chat(1), {{"x-user-id", user}});
  return response.ok() ? response->status : 0;
}

// How far a GCRA key's TAT is ahead of Redis's clock, in µs (-1: no key or no answer).
int64_t TatAhead(const RedisServer& redis, const std::string& key) {
  auto tat = RunCommand(RedisCli(redis, {"GET", key}), 5s);
  auto time = RunCommand(RedisCli(redis, {"TIME"}), 5s);
  if (!tat.ok() || !time.ok() || tat->out.empty() || tat->out[0] < '0' || tat->out[0] > '9') {
    return -1;
  }
  std::istringstream clock(time->out);
  int64_t seconds = 0, micros = 0;
  clock >> seconds >> micros;
  return std::stoll(tat->out) - (seconds * 1000000 + micros);
}

}  // namespace

TEST_CASE("global rateLimits: a user's budget is shared by two replicas, each user has one") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  const std::string limits =
      "    - {name: per-user, requestsPerUnit: 2, unit: hour, " + GlobalRedis(*redis) + "}\n";
  Cluster a(PrincipalSpec(limits));
  Cluster b(PrincipalSpec(limits));
  REQUIRE(StatusAs(a, "alice") == 200);
  CHECK(InRedis(*redis, "pdgate:pl:{per-user:user:alice}:requests"));
  auto second = b.Post("/v1/chat/completions", Chat(1), {{"x-user-id", "alice"}});
  REQUIRE(second.ok());
  CHECK(second->status == 200);
  CHECK(second->Header("x-ratelimit-remaining-requests") == "0");
  auto refused = a.Post("/v1/chat/completions", Chat(1), {{"x-user-id", "alice"}});
  REQUIRE(refused.ok());
  INFO(refused->body);
  CHECK(refused->status == 429);
  CHECK(refused->body.find("(limit per-user) on requests per hour: Limit 2") != std::string::npos);
  CHECK_FALSE(refused->Header("retry-after").empty());
  CHECK(StatusAs(b, "bob") == 200);
  auto metrics = HttpRequest("127.0.0.1", a.admin_port(), "GET", "/metrics");
  REQUIRE(metrics.ok());
  CHECK(
      MetricValue(
          metrics->body,
          R"(pdgate_ratelimit_decisions_total{limit="per-user:requests",result="denied",route=""})") ==
      1);
  CHECK(RedisErrors(a) == 0);
}

TEST_CASE("global rateLimits: a refusal by one limit gives back what another took in Redis") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  // "everyone" (no tenant without authentication: one shared set) is checked before "per-user".
  Cluster cluster(PrincipalSpec(
      "    - {name: everyone, key: tenant, requestsPerUnit: 3, unit: hour, " + GlobalRedis(*redis) +
      "}\n    - {name: per-user, requestsPerUnit: 1, unit: hour, " + GlobalRedis(*redis) + "}\n"));
  const std::string everyone = "pdgate:pl:{everyone:tenant:}:requests";
  constexpr int64_t kInterval = 1200LL * 1000000;  // an hour / 3, in µs
  REQUIRE(StatusAs(cluster, "alice") == 200);
  REQUIRE(TatAhead(*redis, everyone) > kInterval / 2);
  CHECK(TatAhead(*redis, everyone) <= kInterval);
  CHECK(StatusAs(cluster, "alice") == 429);  // per-user said no after everyone took one
  // The refund reaches Redis with the next check of its key, or alone within a few ms.
  CHECK(Eventually([&] { return TatAhead(*redis, everyone) <= kInterval; }, 5s));
  CHECK(StatusAs(cluster, "bob") == 200);
  CHECK(StatusAs(cluster, "carol") == 200);
  CHECK(StatusAs(cluster, "dave") == 429);  // everyone's three are spent
}

TEST_CASE("global rateLimits: with Redis gone, a user's limit falls back to this replica") {
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  Cluster cluster(
      PrincipalSpec("    - {name: per-user, requestsPerUnit: 1, "
                    "unit: hour, " +
                    GlobalRedis(*redis) + "}\n"));
  REQUIRE(StatusAs(cluster, "alice") == 200);
  CHECK(StatusAs(cluster, "alice") == 429);
  redis->Kill();
  // onError local (the default): alice's own bucket on this replica is fresh, then spent.
  CHECK(StatusAs(cluster, "alice") == 200);
  CHECK(StatusAs(cluster, "alice") == 429);
  CHECK(RedisErrors(cluster) >= 2);
}
