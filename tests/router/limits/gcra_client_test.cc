// GcraClient against a real Redis: debits wait and ride along with the next check of their hash
// tag (one script call per request), are summed per key, go out alone after flush_delay or when
// too many wait, and are counted when a failed call drops them.
#include "router/limits/gcra_client.h"

#include <absl/strings/numbers.h>

#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <optional>
#include <string>

#include "base/strings.h"
#include "tests/router/limits/redis_command.h"
#include "tests/router/limits/redis_server.h"

namespace pdgate::limits {
namespace {

using namespace std::chrono_literals;
using testing::Pause;
using testing::RedisServer;
using testing::RunOn;
using testing::Send;
using Clock = std::chrono::steady_clock;

constexpr double kHourUs = 3600e6;

// L units per hour: nothing refills while a test runs.
GcraKey PerHour(std::string key, double limit, double check, double reserve) {
  return GcraKey{std::move(key), kHourUs / limit, kHourUs, check, reserve};
}

GcraCharge Charge(const GcraKey& key, double cost) { return {key.key, key.ei_us, cost}; }

pdgate::router::Task<absl::StatusOr<GcraOutcome>> Check(GcraClient& client,
                                                        std::vector<GcraKey> keys) {
  absl::StatusOr<GcraOutcome> outcome = co_await client.Check(keys);
  co_return outcome;
}

// Polls until `key` exists; how long after `since` it was first seen, or nullopt at the deadline.
pdgate::router::Task<std::optional<Clock::duration>> UntilExists(RedisConnection& redis,
                                                                 std::string key,
                                                                 Clock::time_point since) {
  const Clock::time_point deadline = Clock::now() + 10s;
  std::vector<std::string> exists{"EXISTS", key};
  while (Clock::now() < deadline) {
    absl::StatusOr<RedisReply> reply = co_await redis.Command(exists);
    if (reply.ok() && reply->integer == 1) co_return Clock::now() - since;
    co_await Pause(2ms);
  }
  co_return std::nullopt;
}

// Polls until `done` holds; false at the deadline.
pdgate::router::Task<bool> Until(std::function<bool()> done) {
  const Clock::time_point deadline = Clock::now() + 10s;
  while (!done()) {
    if (Clock::now() >= deadline) co_return false;
    co_await Pause(2ms);
  }
  co_return true;
}

struct ClientFixture {
  explicit ClientFixture(GcraClientOptions options = {}) : server(RedisServer::Start()) {
    REQUIRE(server.ok());
    RedisOptions redis_options;
    redis_options.host = server->host();
    redis_options.port = server->port();
    redis_options.command_timeout = 1s;  // correctness here, not deadlines
    client.emplace(ioc, redis_options, options, [this](size_t keys) { lost += keys; });
    inspect.emplace(ioc, redis_options);
  }
  absl::StatusOr<GcraOutcome> CheckNow(std::vector<GcraKey> keys) {
    return RunOn(ioc, Check(*client, std::move(keys)));
  }
  absl::StatusOr<RedisReply> CallNow(std::vector<std::string> argv) {
    return RunOn(ioc, Send(*inspect, std::move(argv)));
  }
  // EVALSHA and EVAL calls Redis ran since the last CONFIG RESETSTAT.
  int64_t ScriptCalls() {
    auto info = CallNow({"INFO", "commandstats"});
    REQUIRE(info.ok());
    int64_t calls = 0;
    for (const char* command : {"cmdstat_evalsha:calls=", "cmdstat_eval:calls="}) {
      size_t at = info->str.find(command);
      if (at == std::string::npos) continue;
      at += std::string_view(command).size();
      int64_t value = 0;
      REQUIRE(absl::SimpleAtoi(info->str.substr(at, info->str.find(',', at) - at), &value));
      calls += value;
    }
    return calls;
  }
  void ResetStats() { REQUIRE(CallNow({"CONFIG", "RESETSTAT"}).ok()); }

  absl::StatusOr<RedisServer> server;
  net::io_context ioc;
  size_t lost = 0;
  std::optional<GcraClient> client;
  std::optional<RedisConnection> inspect;
};

GcraClientOptions NoTimer() {
  GcraClientOptions options;
  options.flush_delay = 1h;
  return options;
}

TEST_CASE("gcra client: a request costs one script call, its debit rides with the next check") {
  ClientFixture f(NoTimer());
  const GcraKey input = PerHour("pdgate:rl:{r}:input", 1000, 10, 10);
  const GcraKey output = PerHour("pdgate:rl:{r}:output", 100, 1, 0);
  REQUIRE(f.CheckNow({PerHour("{warm}:x", 1, 0, 0)}).ok());  // the script is cached (no EVAL)
  f.ResetStats();
  std::optional<GcraOutcome> last;
  for (int request = 0; request < 5; ++request) {
    auto outcome = f.CheckNow({input, output});
    REQUIRE(outcome.ok());
    REQUIRE(outcome->allowed);
    last = *outcome;
    // The answer: 3 output tokens, 2 input tokens fewer than estimated.
    REQUIRE(f.client->Debit(Charge(output, 3)).ok());
    REQUIRE(f.client->Debit(Charge(input, -2)).ok());
    CHECK(f.client->pending_keys() == 2);
  }
  CHECK(f.ScriptCalls() == 5);
  // The fifth check carried the first four answers: 12 output tokens, 5 * 10 - 4 * 2 input.
  CHECK(last->remaining[0] == 1000 - 42);
  CHECK(last->remaining[1] == 100 - 12);
  CHECK(f.lost == 0);
}

TEST_CASE("gcra client: a debt waiting on this thread refuses the next check") {
  ClientFixture f(NoTimer());
  const GcraKey output = PerHour("pdgate:rl:{r}:output", 20, 1, 0);
  REQUIRE(f.CheckNow({output}).ok());
  REQUIRE(f.client->Debit(Charge(output, 25)).ok());  // a stream past the budget
  auto refused = f.CheckNow({output});
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->allowed);
  CHECK(refused->remaining[0] == 0);
  CHECK(f.client->pending_keys() == 0);
}

TEST_CASE("gcra client: debits of one key are summed, refunds included, and sent once") {
  ClientFixture f(NoTimer());
  const GcraKey input = PerHour("{r}:input", 1000, 0, 0);
  const GcraKey output = PerHour("{r}:output", 100, 0, 0);
  REQUIRE(f.CheckNow({PerHour("{warm}:x", 1, 0, 0)}).ok());
  f.ResetStats();
  REQUIRE(f.client->Debit(Charge(output, 10)).ok());
  REQUIRE(f.client->Debit(Charge(output, 5)).ok());
  REQUIRE(f.client->Debit(Charge(input, 300)).ok());
  REQUIRE(f.client->Debit(Charge(input, -100)).ok());  // a refund, netted
  CHECK(f.client->pending_keys() == 2);
  auto outcome = f.CheckNow({input, output});
  REQUIRE(outcome.ok());
  CHECK(outcome->remaining[0] == 1000 - 200);
  CHECK(outcome->remaining[1] == 100 - 15);
  CHECK(f.ScriptCalls() == 1);
  CHECK(f.client->pending_keys() == 0);
}

TEST_CASE("gcra client: a refund carried by the next check gives a reservation back") {
  ClientFixture f(NoTimer());
  const GcraKey input = PerHour("{r}:input", 100, 60, 60);
  auto first = f.CheckNow({input});
  REQUIRE(first.ok());
  CHECK(first->allowed);
  CHECK(first->remaining[0] == 40);
  REQUIRE(f.client->Debit(Charge(input, -60)).ok());  // the first request was not served
  auto second = f.CheckNow({input});
  REQUIRE(second.ok());
  CHECK(second->allowed);  // 60 fit only with the refund applied first
  CHECK(second->remaining[0] == 40);
}

TEST_CASE("gcra client: debits of another hash tag wait for the timer, not for the check") {
  GcraClientOptions options;
  options.flush_delay = 50ms;
  ClientFixture f(options);
  const GcraKey other = PerHour("pdgate:rl:{other}:output", 10, 1, 0);
  REQUIRE(f.CheckNow({PerHour("{warm}:x", 1, 0, 0)}).ok());
  f.ResetStats();
  const Clock::time_point debited = Clock::now();
  REQUIRE(f.client->Debit(Charge(other, 30)).ok());
  auto check = f.CheckNow({PerHour("pdgate:rl:{route}:output", 10, 1, 0)});
  REQUIRE(check.ok());
  CHECK(check->allowed);
  auto seen = RunOn(f.ioc, UntilExists(*f.inspect, other.key, debited));
  REQUIRE(seen.has_value());
  CHECK(*seen >= options.flush_delay);  // sent by the timer, not with the check
  CHECK(f.client->pending_keys() == 0);
  CHECK(f.ScriptCalls() == 2);  // the check, then one debit call
  auto refused = f.CheckNow({other});
  REQUIRE(refused.ok());
  CHECK_FALSE(refused->allowed);
  CHECK(f.lost == 0);
}

TEST_CASE("gcra client: with more than max_pending_keys waiting, all are sent at once") {
  GcraClientOptions options = NoTimer();
  options.max_pending_keys = 4;
  ClientFixture f(options);
  const Clock::time_point start = Clock::now();
  for (int route = 0; route < 5; ++route) {
    REQUIRE(f.client->Debit(Charge(PerHour(StrCat("{r", route, "}:output"), 10, 0, 0), 5)).ok());
  }
  CHECK(f.client->pending_keys() == 0);
  for (int route = 0; route < 5; ++route) {
    auto seen = RunOn(f.ioc, UntilExists(*f.inspect, StrCat("{r", route, "}:output"), start));
    CHECK(seen.has_value());
  }
}

TEST_CASE("gcra client: debits a failed call drops are counted, and the timer's too") {
  GcraClientOptions options;
  options.flush_delay = 20ms;
  ClientFixture f(options);
  const GcraKey input = PerHour("{r}:input", 100, 1, 1);
  const GcraKey output = PerHour("{r}:output", 100, 1, 0);
  REQUIRE(f.CheckNow({input, output}).ok());
  REQUIRE(f.client->Debit(Charge(input, 5)).ok());
  REQUIRE(f.client->Debit(Charge(output, 5)).ok());
  f.server->Kill();
  auto failed = f.CheckNow({input, output});
  CHECK_FALSE(failed.ok());
  CHECK(f.lost == 2);
  CHECK(f.client->pending_keys() == 0);

  // Alone, after flush_delay, into a connection that is down.
  REQUIRE(f.client->Debit(Charge(PerHour("{other}:output", 100, 0, 0), 5)).ok());
  CHECK(RunOn(f.ioc, Until([&] { return f.lost == 3; })));
  CHECK(f.client->pending_keys() == 0);
}

TEST_CASE("gcra client: bad debits are refused, a zero debit is nothing") {
  ClientFixture f(NoTimer());
  CHECK(absl::IsInvalidArgument(f.client->Debit({"{r}:output", 0, 5})));
  CHECK(absl::IsInvalidArgument(f.client->Debit({"", 1000, 5})));
  CHECK(absl::IsInvalidArgument(
      f.client->Debit({"{r}:output", 1000, std::numeric_limits<double>::quiet_NaN()})));
  CHECK(f.client->Debit({"{r}:output", 1000, 0}).ok());
  CHECK(f.client->pending_keys() == 0);
}

TEST_CASE("gcra client: destroying the client drops what waits, without counting it lost") {
  ClientFixture f;
  const GcraKey output = PerHour("{r}:output", 100, 0, 0);
  REQUIRE(f.client->Debit(Charge(output, 5)).ok());
  f.client.reset();
  f.ioc.restart();
  f.ioc.poll();  // the cancelled timer's handler
  CHECK(f.lost == 0);
  auto key = f.CallNow({"EXISTS", output.key});
  REQUIRE(key.ok());
  CHECK(key->integer == 0);
}

}  // namespace
}  // namespace pdgate::limits
