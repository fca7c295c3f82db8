// The GCRA script against a real Redis under load: two replicas sharing a bucket; and (hidden,
// [.bench]) its latency and throughput.
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <limits>

#include "router/limits/gcra_script.h"
#include "tests/router/limits/gcra_script_fixture.h"
#include "tests/router/limits/redis_server.h"

namespace pdgate::limits {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::RunOn;
using Clock = std::chrono::steady_clock;
using Fixture = testing::ScriptFixture;

struct SharedBucket {
  int allowed = 0;
  int denied = 0;
  int failed = 0;
};

pdgate::router::Task<void> Replica(RedisConnection& redis, const GcraKey& key, int checks,
                                   SharedBucket& bucket) {
  std::vector<GcraKey> keys{key};
  for (int i = 0; i < checks; ++i) {
    absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(redis, keys);
    if (!outcome.ok()) {
      ++bucket.failed;
    } else if (outcome->allowed) {
      ++bucket.allowed;
    } else {
      ++bucket.denied;
    }
  }
}

pdgate::router::Task<bool> TwoReplicas(RedisConnection& first, RedisConnection& second,
                                       const GcraKey& key, SharedBucket& bucket) {
  auto executor = co_await net::this_coro::executor;
  int done = 0;
  for (int i = 0; i < 32; ++i) {
    RedisConnection& redis = i % 2 == 0 ? first : second;
    net::co_spawn(executor, Replica(redis, key, 10, bucket),
                  [&done](const std::exception_ptr&) { ++done; });
  }
  while (done < 32) co_await testing::Pause(1ms);
  co_return true;
}

TEST_CASE("gcra: two replicas sharing a bucket admit no more than the limit together") {
  Fixture f;
  RedisOptions options;
  options.host = f.server->host();
  options.port = f.server->port();
  options.command_timeout = 1s;
  RedisConnection other(f.ioc, options);
  // 50 per hour: nothing refills while the test runs.
  const GcraKey key{"pdgate:rl:{shared}:requests", 3600e6 / 50, 3600e6, 1, 1};
  SharedBucket bucket;
  REQUIRE(RunOn(f.ioc, TwoReplicas(*f.redis, other, key, bucket)));
  CHECK(bucket.failed == 0);
  CHECK(bucket.allowed == 50);
  CHECK(bucket.denied == 320 - 50);
}

// Loopback latency and throughput (not a correctness test): run with
//   build-redis/bin/redis_limiter_test "[.bench]"
pdgate::router::Task<bool> Sequential(RedisConnection& redis, int calls,
                                      std::vector<double>& micros) {
  // A huge bucket: every check admits and writes, the common case.
  std::vector<GcraKey> keys{GcraKey{"{bench}:in", 1, 1e15, 1, 1},
                            GcraKey{"{bench}:out", 1, 1e15, 1, 0}};
  for (int i = 0; i < calls; ++i) {
    Clock::time_point start = Clock::now();
    absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(redis, keys);
    if (!outcome.ok() || !outcome->allowed) co_return false;
    micros.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  co_return true;
}

pdgate::router::Task<void> Loop(RedisConnection& redis, int calls, int& failures) {
  std::vector<GcraKey> keys{GcraKey{"{bench}:in", 1, 1e15, 1, 1},
                            GcraKey{"{bench}:out", 1, 1e15, 1, 0}};
  for (int i = 0; i < calls; ++i) {
    absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(redis, keys);
    if (!outcome.ok()) ++failures;
  }
}

pdgate::router::Task<bool> Concurrent(RedisConnection& redis, int coroutines, int calls,
                                      int& failures) {
  auto executor = co_await net::this_coro::executor;
  int done = 0;
  for (int i = 0; i < coroutines; ++i) {
    net::co_spawn(executor, Loop(redis, calls, failures),
                  [&done](const std::exception_ptr&) { ++done; });
  }
  while (done < coroutines) co_await testing::Pause(1ms);
  co_return true;
}

TEST_CASE("gcra: latency and throughput on loopback", "[.bench]") {
  Fixture f;
  std::vector<double> micros;
  REQUIRE(RunOn(f.ioc, Sequential(*f.redis, 1000, micros)));  // warm up
  micros.clear();
  REQUIRE(RunOn(f.ioc, Sequential(*f.redis, 10000, micros), 120s));
  std::sort(micros.begin(), micros.end());
  std::printf("GcraCheck (2 keys), 10000 sequential: median %.1f us, p99 %.1f us, max %.1f us\n",
              micros[micros.size() / 2], micros[micros.size() * 99 / 100], micros.back());
  int failures = 0;
  Clock::time_point start = Clock::now();
  REQUIRE(RunOn(f.ioc, Concurrent(*f.redis, 64, 1000, failures), 120s));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "GcraCheck (2 keys), 64 coroutines x 1000 on one connection: %.0f checks/s, %d failed\n",
      64000 / seconds, failures);
  CHECK(failures == 0);
}

}  // namespace
}  // namespace pdgate::limits
