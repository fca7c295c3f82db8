#include "router/flow/rate_limiting.h"

#include <spdlog/spdlog.h>

#include "base/strings.h"
#include "router/limits/gcra_script.h"
#include "router/limits/route_limits.h"
#include "router/limits/token_estimate.h"
#include "router/observe/router_metrics.h"

namespace pdgate::router {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

LimitRefusal Refusal(const limits::LimitCheck& check, const limits::LimitOutcome& outcome,
                     std::string_view model, int64_t input_tokens) {
  LimitRefusal refusal;
  refusal.error = {429, check.RefusalMessage(outcome, model, input_tokens),
                   outcome.refused->resource == limits::Resource::kRequests ? "requests" : "tokens",
                   "", "rate_limit_exceeded"};
  check.AppendHeaders(refusal.headers);
  if (const int64_t retry = limits::RetryAfterSeconds(outcome); retry > 0) {
    refusal.headers.emplace_back("retry-after", StrCat(retry));
  }
  return refusal;
}

void CountRefusal(const MetricHandles& metrics, const RateLimitMetrics* route,
                  const limits::LimitOutcome& outcome) {
  const limits::Bucket& bucket = *outcome.refused;
  const bool too_large = outcome.verdict == limits::Verdict::kLargerThanBucket;
  if (bucket.counter < 0) {
    if (route == nullptr) return;
    if (too_large) {
      Increment(route->input_too_large);
    } else {
      Increment(bucket.resource == limits::Resource::kInputTokens ? route->input_denied
                                                                  : route->output_denied);
    }
    return;
  }
  if (size_t(bucket.counter) >= metrics.principal_limits.size()) return;
  const PrincipalLimitMetrics& limit = metrics.principal_limits[size_t(bucket.counter)];
  Increment(too_large ? limit.too_large : limit.denied[size_t(bucket.resource)]);
}

}  // namespace

RequestLimits::RequestLimits(Worker& worker, const RouterState& state,
                             const config::ModelRoute* route, std::string_view model,
                             const limits::Identity& who)
    : worker_(worker), state_(state), metrics_(*state.metrics), who_(who) {
  route_ = state.limits->Find(route);
  if (route_ != nullptr) {
    if (auto it = metrics_.rate_limits.find(route_->key); it != metrics_.rate_limits.end()) {
      route_metrics_ = &it->second;
    }
    if (route_->redis_address) {
      GlobalSet set;
      set.route = route_;
      set.host = &route_->redis_host;
      set.port = route_->redis_port;
      if (route_->input) {
        set.buckets.push_back({nullptr, *route_->input, limits::Resource::kInputTokens,
                               route_->owner, route_->unit, -1});
      }
      if (route_->output) {
        set.buckets.push_back({nullptr, *route_->output, limits::Resource::kOutputTokens,
                               route_->owner, route_->unit, -1});
      }
      globals_.push_back(std::move(set));
    } else {
      limits::AddBuckets(*route_, check_);
    }
  }
  const auto& principals = state.principal_limits->all();
  for (size_t i = 0; i < principals.size(); ++i) {
    const limits::PrincipalLimit& limit = principals[i];
    if (!limits::Matches(limit, model, who)) continue;
    if (!limit.setting.redis_address) {
      limits::AddBuckets(limit, who, check_, principal_sets_, int(i));
      continue;
    }
    GlobalSet set;
    set.principal = int(i);
    set.host = &limit.setting.redis_host;
    set.port = limit.setting.redis_port;
    const std::pair<const std::optional<limits::GcraParams>*, limits::Resource> kinds[] = {
        {&limit.requests, limits::Resource::kRequests},
        {&limit.input, limits::Resource::kInputTokens},
        {&limit.output, limits::Resource::kOutputTokens}};
    for (const auto& [params, resource] : kinds) {
      if (*params) set.buckets.push_back({nullptr, **params, resource, limit.owner, limit.unit, int(i)});
    }
    globals_.push_back(std::move(set));
  }
}

Task<std::optional<LimitRefusal>> RequestLimits::Admit(std::string_view prompt_json,
                                                                 std::string_view model) {
  input_estimate_ = limits::EstimateInputTokens(prompt_json);
  // A request too large for a whole bucket in Redis needs no round trip to say so.
  for (const GlobalSet& set : globals_) {
    for (const limits::Bucket& bucket : set.buckets) {
      if (bucket.resource != limits::Resource::kInputTokens ||
          double(input_estimate_) <= bucket.params.limit()) {
        continue;
      }
      std::atomic<int64_t> full{0};  // a full bucket: only its size matters here
      limits::Bucket alone_bucket = bucket;
      alone_bucket.tat = &full;
      limits::LimitCheck alone;
      alone.Add(alone_bucket);
      const limits::LimitOutcome outcome = alone.Admit(input_estimate_, NowMicros());
      CountRefusal(metrics_, set.route != nullptr ? route_metrics_ : nullptr, outcome);
      co_return Refusal(alone, outcome, model, input_estimate_);
    }
  }
  // The local buckets first: a refusal there costs no round trip, and takes nothing.
  const limits::LimitOutcome local = check_.Admit(input_estimate_, NowMicros());
  if (!local.allowed()) {
    CountRefusal(metrics_, route_metrics_, local);
    co_return Refusal(check_, local, model, input_estimate_);
  }
  if (!globals_.empty()) {
    std::optional<LimitRefusal> refusal = co_await AdmitGlobal(model);
    if (refusal) {
      check_.Settle(-1, -1, /*served=*/false, NowMicros());  // give back what the others took
      co_return refusal;
    }
  }
  check_.AppendHeaders(headers_);
  if (route_metrics_ != nullptr) Increment(route_metrics_->input_allowed);
  co_return std::nullopt;
}

void RequestLimits::BuildKeys(GlobalSet& set) const {
  // One hash tag per set: every key of a check lives on one Redis Cluster node.
  const std::string prefix =
      set.route != nullptr
          ? StrCat("pdgate:rl:{", set.route->key, "}:")
          : limits::RedisKeyPrefix(state_.principal_limits->all()[size_t(set.principal)], who_);
  set.keys.clear();
  set.keys.reserve(set.buckets.size());
  for (const limits::Bucket& bucket : set.buckets) {
    const limits::GcraParams& p = bucket.params;
    switch (bucket.resource) {
      case limits::Resource::kRequests:
        set.keys.push_back({prefix + "requests", p.ei_us, p.burst_us, 1, 1});
        break;
      case limits::Resource::kInputTokens:
        set.keys.push_back({prefix + "input", p.ei_us, p.burst_us, double(input_estimate_),
                            double(input_estimate_)});
        break;
      case limits::Resource::kOutputTokens:
        // Kthena's rule: one token must be left; the answer's tokens are charged after it.
        set.keys.push_back({prefix + "output", p.ei_us, p.burst_us, 1, 0});
        break;
    }
  }
}

Task<std::optional<LimitRefusal>> RequestLimits::AdmitGlobal(std::string_view model) {
  for (GlobalSet& set : globals_) {
    BuildKeys(set);
    const Clock::time_point start = Clock::now();
    limits::GcraClient& redis = worker_.Redis(*set.host, set.port);
    // Carries this thread's waiting debits of the set's hash tag: one script call for both.
    absl::StatusOr<limits::GcraOutcome> result = co_await redis.Check(set.keys);
    Observe(metrics_.redis_latency, std::chrono::duration<double>(Clock::now() - start).count());
    if (!result.ok()) {
      Increment(metrics_.redis_errors);
      switch (worker_.settings().rate_limit_redis.on_error) {
        case config::RedisFailurePolicy::kAllow:
          continue;
        case config::RedisFailurePolicy::kDeny: {
          RefundGlobal();
          LimitRefusal refusal;
          refusal.error = {503,
                           StrCat("The rate limiter of ", model, " is unavailable; try again shortly."),
                           "", "", "rate_limiter_unavailable"};
          refusal.headers.emplace_back("retry-after", "1");
          co_return refusal;
        }
        case config::RedisFailurePolicy::kLocal:
          AddFallback(set);  // checked with the other stand-ins below
          continue;
      }
    }
    const limits::Bucket* refused = RecordGlobal(set, *result);
    if (result->allowed) {
      set.admitted = true;
      continue;
    }
    RefundGlobal();
    limits::LimitOutcome outcome;
    outcome.verdict = limits::Verdict::kExceeded;
    outcome.retry_after_us = result->retry_after_us;
    outcome.refused = refused;
    CountRefusal(metrics_, route_metrics_, outcome);
    co_return Refusal(check_, outcome, model, input_estimate_);
  }
  if (fallback_.empty()) co_return std::nullopt;
  // This replica's own buckets for the sets Redis did not answer for; settled with the rest.
  const limits::LimitOutcome outcome = fallback_.Admit(input_estimate_, NowMicros());
  for (size_t b = 0; b < fallback_.size(); ++b) {
    limits::Bucket shown = fallback_.bucket(b);
    shown.tat = nullptr;
    check_.AddDecided(shown, fallback_.state(b));
  }
  if (!outcome.allowed()) {
    RefundGlobal();
    CountRefusal(metrics_, route_metrics_, outcome);
    co_return Refusal(fallback_, outcome, model, input_estimate_);
  }
  co_return std::nullopt;
}

void RequestLimits::AddFallback(const GlobalSet& set) {
  if (set.route != nullptr) {
    limits::AddBuckets(*set.route, fallback_);
  } else {
    limits::AddBuckets(state_.principal_limits->all()[size_t(set.principal)], who_, fallback_,
                       principal_sets_, set.principal);
  }
}

const limits::Bucket* RequestLimits::RecordGlobal(const GlobalSet& set,
                                                  const limits::GcraOutcome& result) {
  // An index, not a pointer: each AddDecided may move the check's buckets.
  std::optional<size_t> refused;
  for (size_t i = 0; i < set.buckets.size(); ++i) {
    const limits::Bucket& bucket = set.buckets[i];
    limits::GcraDecision state;
    state.allowed = result.allowed;
    state.remaining = i < result.remaining.size() ? result.remaining[i] : 0;
    state.reset_us = i < result.reset_us.size() ? result.reset_us[i] : 0;
    check_.AddDecided(bucket, state);
    // Which key said no: the one whose check cost does not fit what is left.
    if (!result.allowed && !refused && double(state.remaining) < set.keys[i].check_cost) {
      refused = check_.size() - 1;
    }
  }
  if (result.allowed) return nullptr;
  return &check_.bucket(refused.value_or(check_.size() - 1));
}

void RequestLimits::Debit(const GlobalSet& set, size_t key, double cost) {
  if (cost == 0) return;
  // Not sent now: the next check of the hash tag on this thread carries it (gcra_client.h).
  limits::GcraClient& redis = worker_.Redis(*set.host, set.port);
  const limits::GcraCharge charge{set.keys[key].key, set.keys[key].ei_us, cost};
  if (absl::Status queued = redis.Debit(charge); !queued.ok()) {
    Increment(metrics_.redis_errors);
    spdlog::error("rate limit: {}", queued.ToString());
  }
}

void RequestLimits::RefundGlobal() {
  for (GlobalSet& set : globals_) {
    if (!set.admitted) continue;
    for (size_t k = 0; k < set.keys.size(); ++k) Debit(set, k, -set.keys[k].reserve_cost);
    set.admitted = false;
  }
}

void RequestLimits::Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served) {
  check_.Settle(prompt_tokens, completion_tokens, served, NowMicros());
  fallback_.Settle(prompt_tokens, completion_tokens, served, NowMicros());
  for (const GlobalSet& set : globals_) {
    if (!set.admitted) continue;
    for (size_t k = 0; k < set.keys.size(); ++k) {
      double cost = 0;
      switch (set.buckets[k].resource) {
        case limits::Resource::kRequests:
          cost = served ? 0 : -1;
          break;
        case limits::Resource::kInputTokens:
          cost = !served ? -double(input_estimate_)
                 : prompt_tokens >= 0 ? double(prompt_tokens - input_estimate_)
                                      : 0;
          break;
        case limits::Resource::kOutputTokens:
          cost = completion_tokens > 0 ? double(completion_tokens) : 0;
          break;
      }
      Debit(set, k, cost);
    }
  }
}

}  // namespace pdgate::router
