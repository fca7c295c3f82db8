#include "router/flow/rate_limiting.h"

#include <spdlog/spdlog.h>

#include "config/strings.h"
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
    : worker_(worker), metrics_(*state.metrics) {
  route_ = state.limits->Find(route);
  if (route_ != nullptr) {
    if (auto it = metrics_.rate_limits.find(route_->key); it != metrics_.rate_limits.end()) {
      route_metrics_ = &it->second;
    }
    global_ = route_->redis_address.has_value();
    if (!global_) limits::AddBuckets(*route_, check_);
  }
  const auto& principals = state.principal_limits->all();
  for (size_t i = 0; i < principals.size(); ++i) {
    if (limits::Matches(principals[i], model, who)) {
      limits::AddBuckets(principals[i], who, check_, principal_sets_, int(i));
    }
  }
}

net::awaitable<std::optional<LimitRefusal>> RequestLimits::Admit(std::string_view prompt_json,
                                                                 std::string_view model) {
  input_estimate_ = limits::EstimateInputTokens(prompt_json);
  // A global route's request too large for its whole bucket needs no round trip to say so.
  if (global_ && route_->input && double(input_estimate_) > route_->input->limit()) {
    limits::LimitCheck alone;
    limits::AddBuckets(*route_, alone);
    const limits::LimitOutcome outcome = alone.Admit(input_estimate_, NowMicros());
    CountRefusal(metrics_, route_metrics_, outcome);
    co_return Refusal(alone, outcome, model, input_estimate_);
  }
  // The local buckets first: a refusal there costs no round trip, and takes nothing.
  const limits::LimitOutcome local = check_.Admit(input_estimate_, NowMicros());
  if (!local.allowed()) {
    CountRefusal(metrics_, route_metrics_, local);
    co_return Refusal(check_, local, model, input_estimate_);
  }
  if (global_) {
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

std::vector<limits::GcraKey> RequestLimits::GlobalKeys() const {
  // One hash tag per route: every key of a check lives on one Redis Cluster node.
  const std::string prefix = StrCat("pdgate:rl:{", route_->key, "}:");
  std::vector<limits::GcraKey> keys;
  keys.reserve(2);
  if (route_->input) {
    keys.push_back({prefix + "input", route_->input->ei_us, route_->input->burst_us,
                    double(input_estimate_), double(input_estimate_)});
  }
  if (route_->output) {
    keys.push_back({prefix + "output", route_->output->ei_us, route_->output->burst_us, 1, 0});
  }
  return keys;
}

net::awaitable<std::optional<LimitRefusal>> RequestLimits::AdmitGlobal(std::string_view model) {
  global_keys_ = GlobalKeys();
  const Clock::time_point start = Clock::now();
  limits::GcraClient& redis = worker_.Redis(route_->redis_host, route_->redis_port);
  // Carries this thread's waiting debits of the route: one script call for both.
  absl::StatusOr<limits::GcraOutcome> result = co_await redis.Check(global_keys_);
  Observe(metrics_.redis_latency, std::chrono::duration<double>(Clock::now() - start).count());
  if (!result.ok()) {
    Increment(metrics_.redis_errors);
    switch (worker_.settings().rate_limit_redis.on_error) {
      case config::RedisFailurePolicy::kAllow:
        co_return std::nullopt;
      case config::RedisFailurePolicy::kDeny: {
        LimitRefusal refusal;
        refusal.error = {503,
                         StrCat("The rate limiter of ", model, " is unavailable; try again shortly."),
                         "", "", "rate_limiter_unavailable"};
        refusal.headers.emplace_back("retry-after", "1");
        co_return refusal;
      }
      case config::RedisFailurePolicy::kLocal: {
        // This replica's own bucket stands in for the shared one, and is settled with the rest.
        limits::AddBuckets(*route_, fallback_);
        const limits::LimitOutcome outcome = fallback_.Admit(input_estimate_, NowMicros());
        for (size_t b = 0; b < fallback_.size(); ++b) {
          limits::Bucket shown = fallback_.bucket(b);
          shown.tat = nullptr;
          check_.AddDecided(shown, fallback_.state(b));
        }
        if (!outcome.allowed()) {
          CountRefusal(metrics_, route_metrics_, outcome);
          co_return Refusal(fallback_, outcome, model, input_estimate_);
        }
        co_return std::nullopt;
      }
    }
  }
  const limits::Bucket* refused = RecordGlobal(*result);
  if (result->allowed) {
    global_admitted_ = true;
    co_return std::nullopt;
  }
  limits::LimitOutcome outcome;
  outcome.verdict = limits::Verdict::kExceeded;
  outcome.retry_after_us = result->retry_after_us;
  outcome.refused = refused;
  CountRefusal(metrics_, route_metrics_, outcome);
  co_return Refusal(check_, outcome, model, input_estimate_);
}

const limits::Bucket* RequestLimits::RecordGlobal(const limits::GcraOutcome& result) {
  // The buckets' state, for headers and messages, in GlobalKeys() order.
  size_t i = 0;
  // An index, not a pointer: each AddDecided may move the check's buckets.
  std::optional<size_t> refused;
  auto record = [&](const std::optional<limits::GcraParams>& params, limits::Resource resource) {
    if (!params) return;
    limits::GcraDecision state;
    state.allowed = result.allowed;
    state.remaining = i < result.remaining.size() ? result.remaining[i] : 0;
    state.reset_us = i < result.reset_us.size() ? result.reset_us[i] : 0;
    check_.AddDecided({nullptr, *params, resource, route_->owner, route_->unit, -1}, state);
    // Which key said no: the input key when the estimate does not fit what is left.
    if (!result.allowed && !refused &&
        (resource == limits::Resource::kOutputTokens || state.remaining < input_estimate_)) {
      refused = check_.size() - 1;
    }
    ++i;
  };
  record(route_->input, limits::Resource::kInputTokens);
  record(route_->output, limits::Resource::kOutputTokens);
  if (result.allowed) return nullptr;
  return &check_.bucket(refused.value_or(check_.size() - 1));
}

void RequestLimits::Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served) {
  check_.Settle(prompt_tokens, completion_tokens, served, NowMicros());
  fallback_.Settle(prompt_tokens, completion_tokens, served, NowMicros());
  if (!global_admitted_) return;
  // Not sent now: the next check of the route on this thread carries it (gcra_client.h).
  limits::GcraClient& redis = worker_.Redis(route_->redis_host, route_->redis_port);
  for (const limits::GcraKey& key : global_keys_) {
    double cost = 0;
    if (key.key.ends_with(":input")) {
      cost = !served ? -double(input_estimate_)
             : prompt_tokens >= 0 ? double(prompt_tokens - input_estimate_)
                                  : 0;
    } else if (completion_tokens > 0) {
      cost = double(completion_tokens);
    }
    const limits::GcraCharge charge{key.key, key.ei_us, cost};
    if (absl::Status queued = redis.Debit(charge); !queued.ok()) {
      Increment(metrics_.redis_errors);
      spdlog::error("rate limit: {}", queued.ToString());
    }
  }
}

}  // namespace pdgate::router
