#include "router/limits/route_limits.h"

#include <algorithm>
#include <cmath>

#include "config/strings.h"

namespace pdgate::limits {
namespace {

constexpr double kSecondUs = 1e6;

double UnitSeconds(config::RateLimitUnit unit) {
  switch (unit) {
    case config::RateLimitUnit::kSecond:
      return 1;
    case config::RateLimitUnit::kMinute:
      return 60;
    case config::RateLimitUnit::kHour:
      return 3600;
    case config::RateLimitUnit::kDay:
      return 86400;
    case config::RateLimitUnit::kMonth:
      return 30 * 86400.0;  // Kthena's month
  }
  return 1;
}

std::string_view UnitName(config::RateLimitUnit unit) {
  switch (unit) {
    case config::RateLimitUnit::kSecond:
      return "second";
    case config::RateLimitUnit::kMinute:
      return "minute";
    case config::RateLimitUnit::kHour:
      return "hour";
    case config::RateLimitUnit::kDay:
      return "day";
    case config::RateLimitUnit::kMonth:
      return "month";
  }
  return "second";
}

bool SameParams(const std::optional<GcraParams>& a, const std::optional<GcraParams>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a || (a->ei_us == b->ei_us && a->burst_us == b->burst_us);
}

}  // namespace

RouteLimits::RouteLimits(const config::Config& config, const RouteLimits* previous) {
  for (const config::ModelRoute& route : config.model_routes) {
    if (!route.rate_limit) continue;
    const config::RateLimit& rate = *route.rate_limit;
    if (!rate.input_tokens_per_unit && !rate.output_tokens_per_unit) continue;
    RouteLimit limit;
    limit.route = &route;
    limit.key = route.meta.Key();
    const double period_us = UnitSeconds(rate.unit) * kSecondUs;
    if (rate.input_tokens_per_unit) {
      limit.input = GcraParams::PerPeriod(double(*rate.input_tokens_per_unit), period_us);
    }
    if (rate.output_tokens_per_unit) {
      limit.output = GcraParams::PerPeriod(double(*rate.output_tokens_per_unit), period_us);
    }
    limit.unit = UnitName(rate.unit);
    limit.redis_address = rate.global_redis_address;
    if (previous != nullptr) {
      for (const RouteLimit& old : previous->limits_) {
        if (old.key == limit.key && SameParams(old.input, limit.input) &&
            SameParams(old.output, limit.output) && old.redis_address == limit.redis_address) {
          limit.buckets = old.buckets;
        }
      }
    }
    if (!limit.buckets) limit.buckets = std::make_shared<TokenBuckets>();
    limits_.push_back(std::move(limit));
  }
}

const RouteLimit* RouteLimits::Find(const config::ModelRoute* route) const {
  // A handful of limited routes at most: a scan beats a hash of the pointer.
  for (const RouteLimit& limit : limits_) {
    if (limit.route == route) return &limit;
  }
  return nullptr;
}

Admission AdmitLocal(const RouteLimit& limit, int64_t input_tokens, int64_t now_us) {
  Admission admission;
  // What a refusal's headers report of the buckets it did not get to.
  if (limit.input) admission.input = GcraPeek(limit.buckets->input, *limit.input, now_us);
  if (limit.output) admission.output = GcraPeek(limit.buckets->output, *limit.output, now_us);
  if (limit.input && double(input_tokens) > limit.input->limit()) {
    admission.verdict = Verdict::kLargerThanBucket;
    return admission;
  }
  // The output check takes nothing, so it goes first: a refusal there leaves no reservation of
  // input tokens to give back.
  if (limit.output) {
    admission.output = GcraCheck(limit.buckets->output, *limit.output, 1, 0, now_us);
    if (!admission.output.allowed) {
      admission.verdict = Verdict::kOutputExceeded;
      admission.retry_after_us = admission.output.retry_after_us;
      return admission;
    }
  }
  if (limit.input) {
    admission.input = GcraCheck(limit.buckets->input, *limit.input, double(input_tokens),
                                double(input_tokens), now_us);
    if (!admission.input.allowed) {
      admission.verdict = Verdict::kInputExceeded;
      admission.retry_after_us = admission.input.retry_after_us;
      return admission;
    }
  }
  return admission;
}

void SettleLocal(const RouteLimit& limit, int64_t input_estimate, int64_t prompt_tokens,
                 int64_t completion_tokens, bool served, int64_t now_us) {
  if (limit.input) {
    int64_t correction = 0;
    if (!served) {
      correction = -input_estimate;
    } else if (prompt_tokens >= 0) {
      correction = prompt_tokens - input_estimate;
    }
    if (correction != 0) GcraDebit(limit.buckets->input, *limit.input, double(correction), now_us);
  }
  if (limit.output && completion_tokens > 0) {
    GcraDebit(limit.buckets->output, *limit.output, double(completion_tokens), now_us);
  }
}

std::string FormatReset(int64_t microseconds) {
  if (microseconds <= 0) return "0s";
  const int64_t total_ms = (microseconds + 999) / 1000;  // rounded up: never too early
  if (total_ms < 1000) return StrCat(total_ms, "ms");
  const int64_t hours = total_ms / 3600000;
  const int64_t minutes = total_ms % 3600000 / 60000;
  const int64_t ms = total_ms % 60000;
  // Seconds with their fraction, trailing zeros dropped, as Go prints durations: "5.1s".
  std::string seconds = StrCat(ms / 1000);
  if (ms % 1000 != 0) {
    std::string fraction = StrCat(1000 + ms % 1000).substr(1);
    while (fraction.back() == '0') fraction.pop_back();
    StrAppend(seconds, ".", fraction);
  }
  if (hours > 0) return StrCat(hours, "h", minutes, "m", seconds, "s");
  if (minutes > 0) return StrCat(minutes, "m", seconds, "s");
  return StrCat(seconds, "s");
}

void AppendRateLimitHeaders(const RouteLimit& limit, const Admission& admission,
                            HeaderList& headers) {
  if (limit.input) {
    headers.emplace_back("x-ratelimit-limit-tokens",
                         StrCat(static_cast<int64_t>(std::llround(limit.input->limit()))));
    headers.emplace_back("x-ratelimit-remaining-tokens", StrCat(admission.input.remaining));
    headers.emplace_back("x-ratelimit-reset-tokens", FormatReset(admission.input.reset_us));
  }
  if (limit.output) {
    headers.emplace_back("x-ratelimit-limit-output-tokens",
                         StrCat(static_cast<int64_t>(std::llround(limit.output->limit()))));
    headers.emplace_back("x-ratelimit-remaining-output-tokens",
                         StrCat(admission.output.remaining));
    headers.emplace_back("x-ratelimit-reset-output-tokens",
                         FormatReset(admission.output.reset_us));
  }
}

int64_t RetryAfterSeconds(const Admission& admission) {
  if (admission.verdict == Verdict::kLargerThanBucket || admission.retry_after_us <= 0) return 0;
  return std::max<int64_t>((admission.retry_after_us + 999999) / 1000000, 1);
}

std::string RefusalMessage(const RouteLimit& limit, const Admission& admission,
                           std::string_view model, int64_t input_tokens) {
  const auto whole = [](const GcraParams& params) {
    return static_cast<int64_t>(std::llround(params.limit()));
  };
  switch (admission.verdict) {
    case Verdict::kLargerThanBucket:
      return StrCat("Request too large for ", model, " (route ", limit.key, ") on input tokens per ",
                    limit.unit, ": Limit ", whole(*limit.input), ", Requested about ",
                    input_tokens, ". It can never fit this limit: shorten the prompt.");
    case Verdict::kInputExceeded:
      return StrCat("Rate limit reached for ", model, " (route ", limit.key,
                    ") on input tokens per ", limit.unit, ": Limit ", whole(*limit.input),
                    ", Remaining ", admission.input.remaining, ", Requested about ", input_tokens,
                    ". Please try again in ", FormatReset(admission.retry_after_us), ".");
    case Verdict::kOutputExceeded:
      return StrCat("Rate limit reached for ", model, " (route ", limit.key,
                    ") on output tokens per ", limit.unit, ": Limit ", whole(*limit.output),
                    ". Please try again in ", FormatReset(admission.retry_after_us), ".");
    case Verdict::kAllowed:
      break;
  }
  return {};
}

}  // namespace pdgate::limits
