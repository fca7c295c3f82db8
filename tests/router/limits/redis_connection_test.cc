// RedisConnection against a real redis-server: pipelining, error replies, deadlines, a dying and
// returning Redis, AUTH. Everything runs on one io_context in the test thread.
#include "router/limits/redis_connection.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

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
using Type = RedisReply::Type;

const std::string kBinary = std::string("hi\r\n") + '\0' + "there";

RedisOptions Options(const RedisServer& server) {
  RedisOptions options;
  options.host = server.host();
  options.port = server.port();
  return options;
}

absl::StatusOr<RedisReply> Call(net::io_context& ioc, RedisConnection& redis,
                                std::vector<std::string> argv) {
  return RunOn(ioc, Send(redis, std::move(argv)));
}

// Polls with a command until one succeeds; the time it took, or nullopt at the deadline.
pdgate::router::Task<std::optional<Clock::duration>> UntilUp(RedisConnection& redis,
                                                             Clock::duration limit) {
  const Clock::time_point start = Clock::now();
  std::vector<std::string> ping{"PING"};
  while (Clock::now() - start < limit) {
    absl::StatusOr<RedisReply> reply = co_await redis.Command(ping);
    if (reply.ok()) co_return Clock::now() - start;
    co_await Pause(10ms);
  }
  co_return std::nullopt;
}

TEST_CASE("redis: PING, SET and GET round trip, an error reply is a value") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisConnection redis(ioc, Options(*server));
  CHECK(redis.healthy());

  auto pong = Call(ioc, redis, {"PING"});
  REQUIRE(pong.ok());
  CHECK(pong->type == Type::kStatus);
  CHECK(pong->str == "PONG");

  auto set = Call(ioc, redis, {"SET", "greeting", kBinary});
  REQUIRE(set.ok());
  CHECK(set->str == "OK");
  auto get = Call(ioc, redis, {"GET", "greeting"});
  REQUIRE(get.ok());
  CHECK(get->type == Type::kString);
  CHECK(get->str == kBinary);  // binary safe

  auto missing = Call(ioc, redis, {"GET", "absent"});
  REQUIRE(missing.ok());
  CHECK(missing->is_nil());

  auto list = Call(ioc, redis, {"RPUSH", "list", "a", "b"});
  REQUIRE(list.ok());
  CHECK(list->type == Type::kInteger);
  CHECK(list->integer == 2);
  auto range = Call(ioc, redis, {"LRANGE", "list", "0", "-1"});
  REQUIRE(range.ok());
  REQUIRE(range->type == Type::kArray);
  REQUIRE(range->elements.size() == 2);
  CHECK(range->elements[1].str == "b");

  auto wrong = Call(ioc, redis, {"INCR", "greeting"});
  REQUIRE(wrong.ok());
  CHECK(wrong->is_error());
  CHECK(wrong->str.find("not an integer") != std::string::npos);
  auto unknown = Call(ioc, redis, {"NOSUCHCOMMAND"});
  REQUIRE(unknown.ok());
  CHECK(unknown->is_error());
  // The connection is still in step after errors.
  auto after = Call(ioc, redis, {"GET", "list-missing"});
  REQUIRE(after.ok());
  CHECK(after->is_nil());
  CHECK(redis.healthy());
}

TEST_CASE("redis: a host name is resolved") {
  auto server = RedisServer::Start({}, "127.0.0.1");  // where "localhost" leads
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisOptions options = Options(*server);
  options.host = "localhost";  // may resolve to ::1 first: the next address is tried
  RedisConnection redis(ioc, options);
  auto pong = Call(ioc, redis, {"PING"});
  REQUIRE(pong.ok());
  CHECK(pong->str == "PONG");
}

TEST_CASE("redis: an unknown host fails within the connect timeout") {
  net::io_context ioc;
  RedisOptions options;
  options.host = "no-such-host.invalid";  // NXDOMAIN, or no DNS at all: both must end quickly
  options.port = 6379;
  RedisConnection redis(ioc, options);
  const Clock::time_point start = Clock::now();
  auto failed = Call(ioc, redis, {"PING"});
  CHECK(absl::IsUnavailable(failed.status()));
  CHECK(Clock::now() - start < 400ms);  // connect_timeout is 200 ms
  CHECK_FALSE(redis.healthy());
  // In backoff: the next command does not even try.
  const Clock::time_point again = Clock::now();
  CHECK(absl::IsUnavailable(Call(ioc, redis, {"PING"}).status()));
  CHECK(Clock::now() - again < 10ms);
}

struct PipelineResults {
  std::vector<int64_t> increments;
  int mismatched_gets = 0;
  int failures = 0;
};

pdgate::router::Task<void> PipelineWorker(RedisConnection& redis, int worker,
                                          PipelineResults& results) {
  for (int i = 0; i < 10; ++i) {
    std::vector<std::string> incr{"INCR", "counter"};
    absl::StatusOr<RedisReply> counted = co_await redis.Command(incr);
    if (!counted.ok() || counted->type != Type::kInteger) {
      ++results.failures;
    } else {
      results.increments.push_back(counted->integer);
    }
    std::string key = absl::StrCat("key:", worker, ":", i);
    std::vector<std::string> get{"GET", key};
    absl::StatusOr<RedisReply> value = co_await redis.Command(get);
    if (!value.ok()) {
      ++results.failures;
    } else if (value->str != absl::StrCat("value:", worker, ":", i)) {
      ++results.mismatched_gets;
    }
  }
}

pdgate::router::Task<bool> Pipeline(RedisConnection& redis, PipelineResults& results) {
  // Seed the values in one MSET so that each GET has its own expected answer.
  std::vector<std::string> mset{"MSET"};
  for (int worker = 0; worker < 100; ++worker) {
    for (int i = 0; i < 10; ++i) {
      mset.push_back(absl::StrCat("key:", worker, ":", i));
      mset.push_back(absl::StrCat("value:", worker, ":", i));
    }
  }
  absl::StatusOr<RedisReply> seeded = co_await redis.Command(mset);
  if (!seeded.ok()) co_return false;
  auto executor = co_await net::this_coro::executor;
  int done = 0;
  for (int worker = 0; worker < 100; ++worker) {
    net::co_spawn(executor, PipelineWorker(redis, worker, results),
                  [&done](const std::exception_ptr&) { ++done; });
  }
  while (done < 100) co_await Pause(1ms);
  co_return true;
}

TEST_CASE("redis: 2000 commands from 100 coroutines each get their own reply") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisOptions options = Options(*server);
  options.command_timeout = 1s;  // a slow CI machine must not turn this into a timeout test
  RedisConnection redis(ioc, options);
  PipelineResults results;
  REQUIRE(RunOn(ioc, Pipeline(redis, results)));
  CHECK(results.failures == 0);
  CHECK(results.mismatched_gets == 0);
  REQUIRE(results.increments.size() == 1000);
  std::set<int64_t> distinct(results.increments.begin(), results.increments.end());
  CHECK(distinct.size() == 1000);
  CHECK(*distinct.begin() == 1);
  CHECK(*distinct.rbegin() == 1000);
}

struct TimeoutResults {
  absl::Status slow;
  absl::Status behind;
  absl::Status during_backoff;
  std::optional<Clock::duration> recovered_after;
};

pdgate::router::Task<void> SendInto(RedisConnection& redis, std::vector<std::string> argv,
                                    absl::Status& status) {
  absl::StatusOr<RedisReply> reply = co_await redis.Command(argv);
  status = reply.status();
}

pdgate::router::Task<bool> TimeoutScenario(RedisConnection& redis, TimeoutResults& results) {
  std::vector<std::string> ping{"PING"};
  absl::StatusOr<RedisReply> warm = co_await redis.Command(ping);
  if (!warm.ok()) co_return false;
  auto executor = co_await net::this_coro::executor;
  int done = 0;
  auto count = [&done](const std::exception_ptr&) { ++done; };
  net::co_spawn(executor, SendInto(redis, {"DEBUG", "SLEEP", "0.3"}, results.slow), count);
  net::co_spawn(executor, SendInto(redis, {"PING"}, results.behind), count);
  while (done < 2) co_await Pause(1ms);
  absl::StatusOr<RedisReply> at_once = co_await redis.Command(ping);
  results.during_backoff = at_once.status();
  results.recovered_after = co_await UntilUp(redis, 5s);
  co_return true;
}

TEST_CASE("redis: a command past its deadline fails, those behind it too, then it recovers") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisConnection redis(ioc, Options(*server));  // command_timeout 50 ms
  TimeoutResults results;
  const Clock::time_point start = Clock::now();
  REQUIRE(RunOn(ioc, TimeoutScenario(redis, results)));
  CHECK(absl::IsDeadlineExceeded(results.slow));
  CHECK(absl::IsUnavailable(results.behind));
  CHECK(absl::IsUnavailable(results.during_backoff));  // in backoff: fails at once
  REQUIRE(results.recovered_after.has_value());
  CHECK(redis.healthy());
  // Redis sleeps 300 ms; the client neither waited for it nor took long to come back.
  CHECK(Clock::now() - start < 3s);
}

struct DeathResults {
  absl::Status after_kill;
  Clock::duration after_kill_took{};
  absl::Status while_down;
  Clock::duration while_down_took{};
  bool healthy_while_down = true;
};

pdgate::router::Task<bool> KillScenario(RedisConnection& redis, RedisServer& server,
                                        DeathResults& results) {
  std::vector<std::string> ping{"PING"};
  absl::StatusOr<RedisReply> warm = co_await redis.Command(ping);
  if (!warm.ok()) co_return false;
  server.Kill();
  Clock::time_point start = Clock::now();
  absl::StatusOr<RedisReply> first = co_await redis.Command(ping);
  results.after_kill = first.status();
  results.after_kill_took = Clock::now() - start;
  results.healthy_while_down = redis.healthy();
  // Past the first backoff: a new connect, refused.
  co_await Pause(120ms);
  start = Clock::now();
  absl::StatusOr<RedisReply> second = co_await redis.Command(ping);
  results.while_down = second.status();
  results.while_down_took = Clock::now() - start;
  co_return true;
}

TEST_CASE("redis: a killed Redis fails commands at once, a restarted one is used again") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisOptions options = Options(*server);
  options.max_backoff = 400ms;
  RedisConnection redis(ioc, options);
  DeathResults results;
  REQUIRE(RunOn(ioc, KillScenario(redis, *server, results)));
  CHECK(absl::IsUnavailable(results.after_kill));
  CHECK(results.after_kill_took < 60ms);
  CHECK_FALSE(results.healthy_while_down);
  CHECK(absl::IsUnavailable(results.while_down));
  CHECK(results.while_down_took < 60ms);

  REQUIRE(server->Restart().ok());
  auto recovered = RunOn(ioc, UntilUp(redis, 5s));
  REQUIRE(recovered.has_value());
  CHECK(*recovered <= 1s);  // backoff is capped at 400 ms here
  auto set = Call(ioc, redis, {"SET", "k", "v"});
  REQUIRE(set.ok());
  CHECK(set->str == "OK");
}

TEST_CASE("redis: AUTH with the configured password") {
  auto server = RedisServer::Start({"--requirepass", "s3cret"});
  REQUIRE(server.ok());
  net::io_context ioc;

  RedisOptions good = Options(*server);
  good.password = "s3cret";
  RedisConnection authed(ioc, good);
  auto pong = Call(ioc, authed, {"PING"});
  REQUIRE(pong.ok());
  CHECK(pong->str == "PONG");

  RedisConnection anonymous(ioc, Options(*server));
  auto refused = Call(ioc, anonymous, {"GET", "x"});
  REQUIRE(refused.ok());  // NOAUTH is Redis's answer, a value
  CHECK(refused->is_error());
  CHECK(refused->str.rfind("NOAUTH", 0) == 0);

  RedisOptions bad = Options(*server);
  bad.password = "wrong";
  RedisConnection wrong(ioc, bad);
  auto failed = Call(ioc, wrong, {"PING"});
  CHECK(absl::IsUnavailable(failed.status()));
  CHECK(failed.status().message().find("AUTH") != std::string::npos);
  CHECK_FALSE(wrong.healthy());
}

pdgate::router::Task<bool> Flood(RedisConnection& redis, std::vector<absl::Status>& statuses) {
  auto executor = co_await net::this_coro::executor;
  statuses.resize(20);
  int done = 0;
  for (absl::Status& status : statuses) {
    net::co_spawn(executor, SendInto(redis, {"PING"}, status),
                  [&done](const std::exception_ptr&) { ++done; });
  }
  while (done < 20) co_await Pause(1ms);
  co_return true;
}

TEST_CASE("redis: commands beyond max_pending are refused") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisOptions options = Options(*server);
  options.max_pending = 5;
  RedisConnection redis(ioc, options);
  std::vector<absl::Status> statuses;
  REQUIRE(RunOn(ioc, Flood(redis, statuses)));
  auto ok = std::count_if(statuses.begin(), statuses.end(), [](auto& s) { return s.ok(); });
  auto refused = std::count_if(statuses.begin(), statuses.end(),
                               [](auto& s) { return absl::IsResourceExhausted(s); });
  CHECK(ok == 5);
  CHECK(refused == 15);
}

pdgate::router::Task<bool> CloseWhilePending(std::unique_ptr<RedisConnection>& redis,
                                             std::vector<absl::Status>& statuses) {
  auto executor = co_await net::this_coro::executor;
  statuses.resize(3);
  int done = 0;
  net::co_spawn(executor, SendInto(*redis, {"DEBUG", "SLEEP", "0.2"}, statuses[0]),
                [&done](const std::exception_ptr&) { ++done; });
  net::co_spawn(executor, SendInto(*redis, {"PING"}, statuses[1]),
                [&done](const std::exception_ptr&) { ++done; });
  co_await Pause(5ms);
  redis.reset();  // the destructor closes; the coroutines still wait on its shared state
  while (done < 2) co_await Pause(1ms);
  co_return true;
}

TEST_CASE("redis: destroying the connection fails its pending commands") {
  auto server = RedisServer::Start();
  REQUIRE(server.ok());
  net::io_context ioc;
  RedisOptions options = Options(*server);
  options.command_timeout = 1s;
  auto redis = std::make_unique<RedisConnection>(ioc, options);
  std::vector<absl::Status> statuses;
  REQUIRE(RunOn(ioc, CloseWhilePending(redis, statuses)));
  CHECK(absl::IsUnavailable(statuses[0]));
  CHECK(absl::IsUnavailable(statuses[1]));
  // What is left in the io_context (the reader's completion) runs against the shared state.
  ioc.restart();
  ioc.run_for(50ms);
}

}  // namespace
}  // namespace pdgate::limits
