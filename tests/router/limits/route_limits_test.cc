// GCRA buckets and Kthena's per-route token limits, driven with an explicit clock.
#include "router/limits/route_limits.h"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "config/loader.h"
#include "router/limits/gcra.h"
#include "router/limits/token_estimate.h"

using namespace pdgate;
using namespace pdgate::limits;

namespace {

constexpr int64_t kSecond = 1000000;

std::shared_ptr<const config::Config> Load(const std::string& rate_limit) {
  std::string yaml = R"(apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: s, namespace: dev}
spec:
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: a}}
  workloadPort: {port: 8000}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: r, namespace: dev}
spec:
  modelName: m
  rules: [{targetModels: [{modelServerName: s}]}]
)" + rate_limit;
  config::ConfigLoader loader;
  loader.AddYaml("t.yaml", yaml);
  config::LoadResult result = loader.Finish();
  REQUIRE(result.errors.empty());
  return result.config;
}

}  // namespace

TEST_CASE("GCRA: a bucket of 10 per second passes 10, then one every 100 ms") {
  std::atomic<int64_t> tat{0};
  const GcraParams params = GcraParams::PerPeriod(10, kSecond);
  const int64_t now = 50 * kSecond;
  for (int i = 0; i < 10; ++i) {
    GcraDecision d = GcraCheck(tat, params, 1, 1, now);
    REQUIRE(d.allowed);
    CHECK(d.remaining == 9 - i);
  }
  GcraDecision denied = GcraCheck(tat, params, 1, 1, now);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after_us == 100000);
  CHECK(denied.remaining == 0);
  CHECK(denied.reset_us == kSecond);
  CHECK_FALSE(GcraCheck(tat, params, 1, 1, now + 99999).allowed);
  CHECK(GcraCheck(tat, params, 1, 1, now + 100000).allowed);
  // A full second later the bucket is full again: 10 more, not 11.
  const int64_t later = now + 100000 + kSecond;
  int passed = 0;
  while (GcraCheck(tat, params, 1, 1, later).allowed) ++passed;
  CHECK(passed == 10);
}

TEST_CASE(
    "GCRA: check cost and reserve cost are separate, debit goes into debt, refunds stop at full") {
  std::atomic<int64_t> tat{0};
  const GcraParams params = GcraParams::PerPeriod(10, kSecond);
  const int64_t now = kSecond;
  // Kthena's output rule: admitted while one token is left, nothing taken.
  for (int i = 0; i < 100; ++i) REQUIRE(GcraCheck(tat, params, 1, 0, now).allowed);
  // The answer used 30 tokens: 20 over a bucket of 10. The next check waits 2.1 s (debt 2 s,
  // then one token).
  GcraDebit(tat, params, 30, now);
  GcraDecision denied = GcraCheck(tat, params, 1, 0, now);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after_us == 2100000);
  CHECK(GcraCheck(tat, params, 1, 0, now + 2100000).allowed);
  // Refunds never make more than a full bucket.
  GcraDebit(tat, params, -1000, now + 2100000);
  CHECK(GcraPeek(tat, params, now + 2100000).remaining == 10);
}

TEST_CASE("GCRA: threads sharing a bucket never pass more than the limit together") {
  std::atomic<int64_t> tat{0};
  const GcraParams params = GcraParams::PerPeriod(1000, 60 * kSecond);
  std::atomic<int> passed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (GcraCheck(tat, params, 1, 1, 7 * kSecond).allowed) ++passed;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  CHECK(passed == 1000);
}

namespace {

LimitOutcome Admit(const RouteLimit& limit, int64_t tokens, int64_t now,
                   LimitCheck* keep = nullptr) {
  LimitCheck local;
  LimitCheck& check = keep != nullptr ? *keep : local;
  AddBuckets(limit, check);
  return check.Admit(tokens, now);
}

}  // namespace

TEST_CASE("route limits: input estimate taken at admission, output checked, usage settled") {
  auto config =
      Load("  rateLimit: {inputTokensPerUnit: 100, outputTokensPerUnit: 50, unit: minute}\n");
  RouteLimits table(*config, nullptr);
  REQUIRE(table.all().size() == 1);
  const RouteLimit* limit = table.Find(&config->model_routes[0]);
  REQUIRE(limit != nullptr);
  CHECK(limit->key == "dev/r");
  const int64_t now = 1000 * kSecond;

  LimitCheck first;
  REQUIRE(Admit(*limit, 40, now, &first).allowed());
  HeaderList headers;
  first.AppendHeaders(headers);
  REQUIRE(headers.size() == 6);
  CHECK(headers[1].second == "60");  // input remaining
  CHECK(headers[4].second == "50");  // output remaining
  // The engine said 30 prompt tokens (10 fewer than estimated) and 60 completion tokens: 10 more
  // than the output bucket holds.
  first.Settle(30, 60, true, now);
  LimitCheck second;
  const LimitOutcome refused = Admit(*limit, 10, now, &second);
  CHECK(refused.verdict == Verdict::kExceeded);
  REQUIRE(refused.refused != nullptr);
  CHECK(refused.refused->resource == Resource::kOutputTokens);
  CHECK(refused.retry_after_us == 13200000);  // 11 tokens at 1.2 s each
  CHECK(RetryAfterSeconds(refused) == 14);
  HeaderList refused_headers;
  second.AppendHeaders(refused_headers);
  CHECK(refused_headers[1].second == "70");  // the refusal took nothing

  // Larger than the whole input bucket: refused as such, never "retry later".
  LimitCheck huge_check;
  const LimitOutcome huge = Admit(*limit, 101, now + 3600 * kSecond, &huge_check);
  CHECK(huge.verdict == Verdict::kLargerThanBucket);
  CHECK(RetryAfterSeconds(huge) == 0);
  CHECK(huge_check.RefusalMessage(huge, "m", 101).find("can never fit") != std::string::npos);

  // An answer that reached no engine gives its input reservation back.
  const int64_t later = now + 3600 * kSecond;
  LimitCheck taken;
  REQUIRE(Admit(*limit, 100, later, &taken).allowed());
  CHECK(Admit(*limit, 1, later).verdict == Verdict::kExceeded);
  taken.Settle(-1, -1, false, later);
  CHECK(Admit(*limit, 100, later).allowed());
}

TEST_CASE("route limits: OpenAI's headers and wording") {
  auto config = Load("  rateLimit: {inputTokensPerUnit: 1000, unit: minute}\n");
  RouteLimits table(*config, nullptr);
  const RouteLimit& limit = table.all()[0];
  LimitCheck check;
  REQUIRE(Admit(limit, 385, 60 * kSecond, &check).allowed());
  HeaderList headers;
  check.AppendHeaders(headers);
  REQUIRE(headers.size() == 3);  // no output limit, no output headers
  CHECK(headers[0] == std::pair<std::string_view, std::string>("x-ratelimit-limit-tokens", "1000"));
  CHECK(headers[1] ==
        std::pair<std::string_view, std::string>("x-ratelimit-remaining-tokens", "615"));
  CHECK(headers[2] ==
        std::pair<std::string_view, std::string>("x-ratelimit-reset-tokens", "23.1s"));
  LimitCheck denied_check;
  const LimitOutcome denied = Admit(limit, 700, 60 * kSecond, &denied_check);
  CHECK(denied.verdict == Verdict::kExceeded);
  CHECK(denied_check.RefusalMessage(denied, "m", 700) ==
        "Rate limit reached for m (route dev/r) on input tokens per minute: Limit 1000, Remaining "
        "615, Requested about 700. Please try again in 5.1s.");
  CHECK(FormatReset(0) == "0s");
  CHECK(FormatReset(643001) == "644ms");
  CHECK(FormatReset(360 * kSecond) == "6m0s");
  CHECK(FormatReset(3723 * kSecond) == "1h2m3s");
  CHECK(FormatReset(1200000) == "1.2s");
  CHECK(FormatReset(61050000) == "1m1.05s");
}

TEST_CASE("route limits: a reload keeps unchanged buckets and drops removed or changed ones") {
  auto config = Load("  rateLimit: {inputTokensPerUnit: 100, unit: minute}\n");
  RouteLimits before(*config, nullptr);
  REQUIRE(Admit(before.all()[0], 100, kSecond).allowed());

  auto same = Load("  rateLimit: {inputTokensPerUnit: 100, unit: minute}\n");
  RouteLimits kept(*same, &before);
  CHECK(Admit(kept.all()[0], 1, kSecond).verdict == Verdict::kExceeded);

  auto changed = Load("  rateLimit: {inputTokensPerUnit: 200, unit: minute}\n");
  RouteLimits fresh(*changed, &kept);
  CHECK(Admit(fresh.all()[0], 200, kSecond).allowed());

  auto removed = Load("");
  RouteLimits none(*removed, &fresh);
  CHECK(none.empty());
  CHECK(none.Find(&removed->model_routes[0]) == nullptr);
}

TEST_CASE("the input estimate counts characters, not bytes, and never says 0") {
  CHECK(EstimateInputTokens("") == 1);
  CHECK(EstimateInputTokens("abcd") == 1);
  CHECK(EstimateInputTokens("abcde") == 2);
  // Four CJK characters are 12 bytes of UTF-8 and one estimated token, as four ASCII ones.
  CHECK(EstimateInputTokens("\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c") == 1);
}
