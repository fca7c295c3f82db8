// Limits per principal: matching, one bucket set per user/tenant/key, a refusal that takes
// nothing, and memory bounded over 100k principals.
#include "router/limits/principal_limits.h"

#include <catch2/catch.hpp>

using namespace pdgate;
using namespace pdgate::limits;

namespace {

constexpr int64_t kSecondUs = 1000000;  // the limiters count microseconds

config::RouterSettings Settings(std::vector<config::PrincipalLimitSetting> limits) {
  config::RouterSettings settings;
  settings.rate_limits = std::move(limits);
  return settings;
}

config::PrincipalLimitSetting PerUser(uint32_t requests) {
  config::PrincipalLimitSetting limit;
  limit.name = "per-user";
  limit.requests_per_unit = requests;
  limit.unit = config::RateLimitUnit::kMinute;
  return limit;
}

// What a check said; copied out, since the outcome's bucket lives in the check.
struct Said {
  Verdict verdict = Verdict::kAllowed;
  int64_t retry_after_us = 0;
  std::optional<Resource> resource;
  int counter = -1;
  bool allowed() const { return verdict == Verdict::kAllowed; }
};

Said Admit(const PrincipalLimits& table, const Identity& who, std::string_view model,
           int64_t tokens, int64_t now) {
  LimitCheck check;
  std::vector<std::shared_ptr<PrincipalBuckets>> sets;
  for (size_t i = 0; i < table.all().size(); ++i) {
    if (Matches(table.all()[i], model, who)) AddBuckets(table.all()[i], who, check, sets, int(i));
  }
  const LimitOutcome outcome = check.Admit(tokens, now);
  Said said{outcome.verdict, outcome.retry_after_us, std::nullopt, -1};
  if (outcome.refused != nullptr) {
    said.resource = outcome.refused->resource;
    said.counter = outcome.refused->counter;
  }
  return said;
}

}  // namespace

TEST_CASE("principal limits: each user has a budget of its own") {
  PrincipalLimits table(Settings({PerUser(2)}), nullptr);
  const Identity alice{"alice", "t", ""};
  const Identity bob{"bob", "t", ""};
  CHECK(Admit(table, alice, "m", 10, kSecondUs).allowed());
  CHECK(Admit(table, alice, "m", 10, kSecondUs).allowed());
  const Said third = Admit(table, alice, "m", 10, kSecondUs);
  CHECK(third.verdict == Verdict::kExceeded);
  CHECK(third.resource == Resource::kRequests);
  CHECK(third.counter == 0);
  CHECK(third.retry_after_us == 30 * kSecondUs);
  CHECK(Admit(table, bob, "m", 10, kSecondUs).allowed());
}

TEST_CASE("principal limits: matching on model, tenant and key, keyed by tenant") {
  config::PrincipalLimitSetting team = PerUser(1);
  team.name = "team-a";
  team.models = {"m"};
  team.match_tenant = "team-a";
  team.key = config::LimitKey::kTenant;
  PrincipalLimits table(Settings({team}), nullptr);
  const Identity a1{"u1", "team-a", ""};
  const Identity a2{"u2", "team-a", ""};
  CHECK(Admit(table, a1, "m", 1, kSecondUs).allowed());
  CHECK_FALSE(Admit(table, a2, "m", 1, kSecondUs).allowed());      // one budget for the tenant
  CHECK(Admit(table, a2, "other-model", 1, kSecondUs).allowed());  // not matched
  CHECK(Admit(table, {"u3", "team-b", ""}, "m", 1, kSecondUs).allowed());
}

TEST_CASE("principal limits: a refusal by one bucket gives back what the others took") {
  config::PrincipalLimitSetting requests = PerUser(100);
  config::PrincipalLimitSetting tokens;
  tokens.name = "tokens";
  tokens.input_tokens_per_unit = 50;
  tokens.unit = config::RateLimitUnit::kMinute;
  PrincipalLimits table(Settings({requests, tokens}), nullptr);
  const Identity alice{"alice", "", ""};
  REQUIRE(Admit(table, alice, "m", 40, kSecondUs).allowed());
  // 20 more tokens do not fit: the request bucket must not keep this request.
  for (int i = 0; i < 5; ++i) CHECK_FALSE(Admit(table, alice, "m", 20, kSecondUs).allowed());
  int passed = 0;
  while (Admit(table, alice, "m", 0, kSecondUs).allowed() && passed < 200) ++passed;
  CHECK(passed == 99);  // 100 requests, one taken by the first admission only
}

TEST_CASE("principal limits: memory stays bounded over 100k principals, idle sets are dropped") {
  PrincipalLimits table(Settings({PerUser(10)}), nullptr, /*max_principals=*/6400);
  const std::shared_ptr<BucketMap>& map = table.all()[0].buckets;
  for (int i = 0; i < 100000; ++i) {
    const std::string user = "user-" + std::to_string(i);
    REQUIRE(Admit(table, {user, "", ""}, "m", 1, kSecondUs).allowed());
    REQUIRE(map->size() <= 6400);
  }
  CHECK(map->size() > 6000);
  CHECK(map->evicted_full() >= 100000 - 6400);
  // One request of ten a minute takes 6 s of the bucket: before that every set is still needed,
  // after it every bucket is full again and there is nothing left to remember.
  CHECK(map->EvictIdle(kSecondUs + 5 * kSecondUs) == 0);
  const size_t held = map->size();
  CHECK(map->EvictIdle(kSecondUs + 6 * kSecondUs) == held);
  CHECK(map->size() == 0);
}

TEST_CASE("principal limits: a reload keeps the buckets of an unchanged limit") {
  PrincipalLimits before(Settings({PerUser(1)}), nullptr);
  REQUIRE(Admit(before, {"alice", "", ""}, "m", 1, kSecondUs).allowed());
  PrincipalLimits kept(Settings({PerUser(1)}), &before);
  CHECK_FALSE(Admit(kept, {"alice", "", ""}, "m", 1, kSecondUs).allowed());
  PrincipalLimits changed(Settings({PerUser(2)}), &kept);
  CHECK(Admit(changed, {"alice", "", ""}, "m", 1, kSecondUs).allowed());
}

TEST_CASE("principal limits: Redis keys carry the principal in one hash tag, odd ones hashed") {
  config::PrincipalLimitSetting team = PerUser(1);
  team.name = "team";
  team.key = config::LimitKey::kTenant;
  PrincipalLimits table(Settings({PerUser(1), team}), nullptr);
  const Identity alice{"alice", "t-1", ""};
  CHECK(RedisKeyPrefix(table.all()[0], alice) == "pdgate:pl:{per-user:user:alice}:");
  CHECK(RedisKeyPrefix(table.all()[1], alice) == "pdgate:pl:{team:tenant:t-1}:");
  // A brace would move the hash tag, a space or a long value makes odd keys: hashed instead.
  for (std::string odd : {std::string("a}b"), std::string("a b"), std::string(200, 'x'),
                          std::string("caf\xc3\xa9")}) {
    const Identity who{odd, "", ""};
    const std::string prefix = RedisKeyPrefix(table.all()[0], who);
    INFO(prefix);
    CHECK(prefix.starts_with("pdgate:pl:{per-user:user:#"));
    CHECK(prefix.size() == std::string("pdgate:pl:{per-user:user:#}:").size() + 16);
    CHECK(prefix != RedisKeyPrefix(table.all()[0], Identity{odd + "!", "", ""}));
  }
}
