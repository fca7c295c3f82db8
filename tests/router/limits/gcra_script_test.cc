// The GCRA script against a real Redis: admission, debt and refunds (alone and carried by a
// check), the script cache, hash tags, malformed calls. Replicas sharing a bucket and the
// benchmark are in gcra_script_load_test.cc.
#include "router/limits/gcra_script.h"

#include <absl/strings/str_cat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <limits>

#include "tests/router/limits/gcra_script_fixture.h"
#include "tests/router/limits/redis_server.h"

namespace pdgate::limits {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using testing::RunOn;
using Clock = std::chrono::steady_clock;
using Fixture = testing::ScriptFixture;
using testing::Debit;

constexpr double kSecondUs = 1e6;

// L units per second: ei = P/L, burst = P.
GcraKey PerSecond(std::string key, double limit, double check, double reserve) {
  return GcraKey{std::move(key), kSecondUs / limit, kSecondUs, check, reserve};
}

TEST_CASE("gcra: 10 per second admits 10, then denies with a retry of about 100 ms") {
  Fixture f;
  const GcraKey one = PerSecond("pdgate:rl:{m}:in", 10, 1, 1);
  for (int64_t expected = 9; expected >= 0; --expected) {
    auto outcome = f.CheckNow({one});
    REQUIRE(outcome.ok());
    CHECK(outcome->allowed);
    REQUIRE(outcome->remaining.size() == 1);
    CHECK(outcome->remaining[0] == expected);
    // The bucket is full again after (10 - remaining) emission intervals.
    CHECK(outcome->reset_us[0] <= (10 - expected) * 100'000);
    CHECK(outcome->reset_us[0] > (10 - expected) * 100'000 - 50'000);
  }
  auto denied = f.CheckNow({one});
  REQUIRE(denied.ok());
  CHECK_FALSE(denied->allowed);
  CHECK(denied->retry_after_us <= 100'000);
  CHECK(denied->retry_after_us > 50'000);  // the ten checks took less than 50 ms
  CHECK(denied->remaining[0] == 0);

  // The key expires a second after the bucket would be full again.
  auto ttl = f.CallNow({"PTTL", "pdgate:rl:{m}:in"});
  REQUIRE(ttl.ok());
  CHECK(ttl->integer > 1000);
  CHECK(ttl->integer <= 2000);
}

TEST_CASE("gcra: a check-only probe admits without charging") {
  Fixture f;
  auto probe = f.CheckNow({PerSecond("{m}:out", 10, 1, 0)});
  REQUIRE(probe.ok());
  CHECK(probe->allowed);
  CHECK(probe->remaining[0] == 10);
  CHECK(probe->reset_us[0] == 0);
  auto key = f.CallNow({"EXISTS", "{m}:out"});
  REQUIRE(key.ok());
  CHECK(key->integer == 0);  // a full bucket needs no key
}

TEST_CASE("gcra: a cost larger than the bucket is denied with a hint, not an error") {
  Fixture f;
  auto outcome = f.CheckNow({PerSecond("{m}:in", 10, 25, 25)});
  REQUIRE(outcome.ok());
  CHECK_FALSE(outcome->allowed);
  // It would fit only once the bucket were 15 tokens in credit: 1.5 s.
  CHECK(outcome->retry_after_us > 1'400'000);
  CHECK(outcome->retry_after_us <= 1'500'000);
  CHECK(outcome->remaining[0] == 10);
}

TEST_CASE("gcra: a debit beyond the bucket is debt, a refund pays it back") {
  Fixture f;
  const GcraKey key = PerSecond("{m}:out", 10, 1, 1);
  REQUIRE(f.DebitNow({{key, 30}}).ok());  // 30 tokens of output on a 10-token bucket
  auto denied = f.CheckNow({key});
  REQUIRE(denied.ok());
  CHECK_FALSE(denied->allowed);
  // TAT = now + 3 s; one token fits at TAT + 0.1 s - 1 s.
  CHECK(denied->retry_after_us > 2'000'000);
  CHECK(denied->retry_after_us <= 2'100'000);
  CHECK(denied->reset_us[0] > 2'900'000);

  REQUIRE(f.DebitNow({{key, -30}}).ok());  // refund
  auto allowed = f.CheckNow({key});
  REQUIRE(allowed.ok());
  CHECK(allowed->allowed);
  CHECK(allowed->remaining[0] == 9);

  // A refund never leaves more than a full bucket.
  REQUIRE(f.DebitNow({{key, -100}}).ok());
  auto full = f.CheckNow({PerSecond("{m}:out", 10, 0, 0)});
  REQUIRE(full.ok());
  CHECK(full->remaining[0] == 10);
}

TEST_CASE("gcra: one denied key blocks all and writes nothing") {
  Fixture f;
  const GcraKey input = PerSecond("pdgate:rl:{t:m}:input", 100, 50, 50);
  const GcraKey output = PerSecond("pdgate:rl:{t:m}:output", 10, 1, 1);
  REQUIRE(f.DebitNow({{output, 10}}).ok());  // output bucket empty
  auto before = f.CallNow({"GET", "pdgate:rl:{t:m}:output"});
  REQUIRE(before.ok());

  auto denied = f.CheckNow({input, output});
  REQUIRE(denied.ok());
  CHECK_FALSE(denied->allowed);
  REQUIRE(denied->remaining.size() == 2);
  CHECK(denied->remaining[0] == 100);
  CHECK(denied->remaining[1] == 0);
  auto input_key = f.CallNow({"EXISTS", "pdgate:rl:{t:m}:input"});
  REQUIRE(input_key.ok());
  CHECK(input_key->integer == 0);
  auto after = f.CallNow({"GET", "pdgate:rl:{t:m}:output"});
  REQUIRE(after.ok());
  CHECK(after->str == before->str);
}

TEST_CASE("gcra: debits carried by a check are applied before it, so a debt refuses at once") {
  Fixture f;
  const GcraKey input = PerSecond("pdgate:rl:{t:m}:input", 100, 10, 10);
  const GcraKey output = PerSecond("pdgate:rl:{t:m}:output", 10, 1, 0);
  // The last answer's 30 output tokens (a 10-token bucket) travel with the next check.
  auto denied = f.CheckNow({input, output}, {{output, 30}});
  REQUIRE(denied.ok());
  CHECK_FALSE(denied->allowed);
  REQUIRE(denied->remaining.size() == 2);  // the check keys only
  CHECK(denied->remaining[0] == 100);
  CHECK(denied->remaining[1] == 0);
  // TAT = now + 3 s; one token fits at TAT + 0.1 s - 1 s.
  CHECK(denied->retry_after_us > 2'000'000);
  CHECK(denied->retry_after_us <= 2'100'000);
  CHECK(denied->reset_us[1] > 2'900'000);
  // The refused check took nothing; the debit stays, with its TTL.
  auto input_key = f.CallNow({"EXISTS", "pdgate:rl:{t:m}:input"});
  REQUIRE(input_key.ok());
  CHECK(input_key->integer == 0);
  auto ttl = f.CallNow({"PTTL", "pdgate:rl:{t:m}:output"});
  REQUIRE(ttl.ok());
  CHECK(ttl->integer > 3000);
  CHECK(ttl->integer <= 4000);
}

TEST_CASE("gcra: a refund carried by a check gives the reservation back before the check") {
  Fixture f;
  const GcraKey input = PerSecond("{t:m}:input", 100, 60, 60);
  auto first = f.CheckNow({input});
  REQUIRE(first.ok());
  CHECK(first->allowed);
  CHECK(first->remaining[0] == 40);
  // 60 more do not fit in the 40 left, unless the first request's 60 come back first.
  auto second = f.CheckNow({input}, {{input, -60}});
  REQUIRE(second.ok());
  CHECK(second->allowed);
  CHECK(second->remaining[0] == 40);
  auto third = f.CheckNow({input});
  REQUIRE(third.ok());
  CHECK_FALSE(third->allowed);
}

TEST_CASE("gcra: a malformed call is an error reply and writes nothing, not even its debits") {
  Fixture f;
  const std::string script(GcraScript());
  // A good debit, then a check key with a bad number.
  auto bad_check = f.CallNow({"EVAL", script, "2", "{m}:out", "{m}:in", "check", "1", "100000",
                              "30", "100000", "1000000", "x", "1"});
  REQUIRE(bad_check.ok());
  CHECK(bad_check->is_error());
  // A debit count that leaves no check key.
  auto no_check = f.CallNow({"EVAL", script, "1", "{m}:out", "check", "1", "100000", "30"});
  REQUIRE(no_check.ok());
  CHECK(no_check->is_error());
  CHECK(no_check->str.find("bad debit count") != std::string::npos);
  // Debit mode: a good key, then a bad one.
  auto bad_debit =
      f.CallNow({"EVAL", script, "2", "{m}:out", "{m}:in", "debit", "100000", "30", "100000", "y"});
  REQUIRE(bad_debit.ok());
  CHECK(bad_debit->is_error());
  auto keys = f.CallNow({"EXISTS", "{m}:out", "{m}:in"});
  REQUIRE(keys.ok());
  CHECK(keys->integer == 0);
}

TEST_CASE("gcra: keys must share a hash tag, bad numbers are refused before Redis") {
  Fixture f;
  auto split = f.CheckNow({PerSecond("{a}:in", 10, 1, 1), PerSecond("{b}:in", 10, 1, 1)});
  CHECK(absl::IsInvalidArgument(split.status()));
  auto negative = f.CheckNow({PerSecond("{a}:in", 10, -1, 1)});
  CHECK(absl::IsInvalidArgument(negative.status()));
  auto no_rate = f.CheckNow({GcraKey{"{a}:in", 0, kSecondUs, 1, 1}});
  CHECK(absl::IsInvalidArgument(no_rate.status()));
  auto none = f.CheckNow({});
  CHECK(absl::IsInvalidArgument(none.status()));
  // Debits carried by a check share its hash tag too, and need a check key.
  auto other_tag =
      f.CheckNow({PerSecond("{a}:in", 10, 1, 1)}, {{PerSecond("{b}:out", 10, 1, 1), 1}});
  CHECK(absl::IsInvalidArgument(other_tag.status()));
  auto debits_only = f.CheckNow({}, {{PerSecond("{a}:out", 10, 1, 1), 1}});
  CHECK(absl::IsInvalidArgument(debits_only.status()));
  auto infinite =
      f.CheckNow({PerSecond("{a}:in", 10, 1, 1)},
                 {{PerSecond("{a}:out", 10, 1, 1), std::numeric_limits<double>::infinity()}});
  CHECK(absl::IsInvalidArgument(infinite.status()));

  CHECK(HashTag("pdgate:rl:{t:m}:in") == "t:m");
  CHECK(HashTag("plain") == "plain");
  CHECK(HashTag("a{}b{c}") == "a{}b{c}");  // an empty tag: the whole key
  CHECK(HashTag("a{b") == "a{b");
}

TEST_CASE("gcra: EVALSHA uses the script's SHA-1, and EVAL takes over after SCRIPT FLUSH") {
  Fixture f;
  const GcraKey key = PerSecond("{m}:in", 10, 1, 1);
  REQUIRE(f.CheckNow({key}).ok());
  auto exists = f.CallNow({"SCRIPT", "EXISTS", GcraScriptSha1()});
  REQUIRE(exists.ok());
  REQUIRE(exists->elements.size() == 1);
  CHECK(exists->elements[0].integer == 1);

  REQUIRE(f.CallNow({"SCRIPT", "FLUSH"}).ok());
  auto outcome = f.CheckNow({key});
  REQUIRE(outcome.ok());
  CHECK(outcome->allowed);
  CHECK(outcome->remaining[0] == 8);
  REQUIRE(f.CallNow({"SCRIPT", "FLUSH"}).ok());
  CHECK(f.DebitNow({{key, 1}}).ok());
}

TEST_CASE("gcra: a garbage TAT counts as absent, a key of the wrong type is an internal error") {
  Fixture f;
  REQUIRE(f.CallNow({"SET", "{m}:in", "not-a-number"}).ok());
  auto outcome = f.CheckNow({PerSecond("{m}:in", 10, 1, 1)});
  REQUIRE(outcome.ok());  // a garbage TAT counts as absent, and is overwritten
  CHECK(outcome->allowed);
  REQUIRE(f.CallNow({"LPUSH", "{m}:list", "x"}).ok());
  auto wrong_type = f.CheckNow({PerSecond("{m}:list", 10, 1, 1)});
  CHECK(absl::IsInternal(wrong_type.status()));  // WRONGTYPE from GET inside the script
}

}  // namespace
}  // namespace pdgate::limits
