#include "router/limits/limit_check.h"

#include <algorithm>
#include <cmath>

#include "base/strings.h"

namespace pdgate::limits {
namespace {

int64_t Whole(const GcraParams& params) { return static_cast<int64_t>(std::llround(params.limit())); }

// What a bucket's check must fit, and what it takes: a request takes one; input takes the
// estimate; output (Kthena's rule) must have one token left and takes nothing until the answer.
std::pair<double, double> Costs(Resource resource, int64_t input_tokens) {
  switch (resource) {
    case Resource::kRequests:
      return {1, 1};
    case Resource::kInputTokens:
      return {double(input_tokens), double(input_tokens)};
    case Resource::kOutputTokens:
      return {1, 0};
  }
  return {1, 1};
}

}  // namespace

std::string_view ToString(Resource resource) {
  switch (resource) {
    case Resource::kRequests:
      return "requests";
    case Resource::kInputTokens:
      return "input";
    case Resource::kOutputTokens:
      return "output";
  }
  return "requests";
}

LimitOutcome LimitCheck::Admit(int64_t input_tokens, int64_t now_us) {
  input_estimate_ = input_tokens;
  LimitOutcome outcome;
  for (Entry& entry : buckets_) {
    if (entry.bucket.tat == nullptr) continue;
    entry.state = GcraPeek(*entry.bucket.tat, entry.bucket.params, now_us);
    if (entry.bucket.resource == Resource::kInputTokens &&
        double(input_tokens) > entry.bucket.params.limit()) {
      outcome.verdict = Verdict::kLargerThanBucket;
      outcome.refused = &entry.bucket;
      return outcome;
    }
  }
  // Checks that take nothing first: a refusal there leaves nothing to give back.
  for (bool taking : {false, true}) {
    for (size_t i = 0; i < buckets_.size(); ++i) {
      Entry& entry = buckets_[i];
      if (entry.bucket.tat == nullptr) continue;
      const auto [check, reserve] = Costs(entry.bucket.resource, input_tokens);
      if ((reserve > 0) != taking) continue;
      entry.state = GcraCheck(*entry.bucket.tat, entry.bucket.params, check, reserve, now_us);
      if (entry.state.allowed) {
        entry.reserved = reserve;
        continue;
      }
      outcome.verdict = Verdict::kExceeded;
      outcome.retry_after_us = entry.state.retry_after_us;
      outcome.refused = &entry.bucket;
      for (Entry& taken : buckets_) {
        if (taken.reserved > 0 && taken.bucket.tat != nullptr) {
          GcraDebit(*taken.bucket.tat, taken.bucket.params, -taken.reserved, now_us);
          taken.reserved = 0;
          taken.state = GcraPeek(*taken.bucket.tat, taken.bucket.params, now_us);
        }
      }
      return outcome;
    }
  }
  return outcome;
}

void LimitCheck::Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served,
                        int64_t now_us) {
  for (Entry& entry : buckets_) {
    if (entry.bucket.tat == nullptr) continue;
    double cost = 0;
    switch (entry.bucket.resource) {
      case Resource::kRequests:
        cost = served ? 0 : -entry.reserved;
        break;
      case Resource::kInputTokens:
        if (!served) {
          cost = -entry.reserved;
        } else if (prompt_tokens >= 0) {
          cost = double(prompt_tokens - input_estimate_);
        }
        break;
      case Resource::kOutputTokens:
        cost = completion_tokens > 0 ? double(completion_tokens) : 0;
        break;
    }
    if (cost != 0) GcraDebit(*entry.bucket.tat, entry.bucket.params, cost, now_us);
  }
}

void LimitCheck::AppendHeaders(HeaderList& headers) const {
  struct Names {
    std::string_view limit, remaining, reset;
  };
  static constexpr std::array<Names, 3> kNames = {{
      {"x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"},
      {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"},
      {"x-ratelimit-limit-output-tokens", "x-ratelimit-remaining-output-tokens",
       "x-ratelimit-reset-output-tokens"},
  }};
  for (size_t r = 0; r < kNames.size(); ++r) {
    const Entry* tightest = nullptr;
    for (const Entry& entry : buckets_) {
      if (size_t(entry.bucket.resource) != r) continue;
      if (tightest == nullptr || entry.state.remaining < tightest->state.remaining) {
        tightest = &entry;
      }
    }
    if (tightest == nullptr) continue;
    headers.emplace_back(kNames[r].limit, StrCat(Whole(tightest->bucket.params)));
    headers.emplace_back(kNames[r].remaining, StrCat(tightest->state.remaining));
    headers.emplace_back(kNames[r].reset, FormatReset(tightest->state.reset_us));
  }
}

std::string LimitCheck::RefusalMessage(const LimitOutcome& outcome, std::string_view model,
                                       int64_t input_tokens) const {
  if (outcome.refused == nullptr) return {};
  const Bucket& bucket = *outcome.refused;
  const std::string_view what = bucket.resource == Resource::kRequests ? "requests"
                                : bucket.resource == Resource::kInputTokens ? "input tokens"
                                                                            : "output tokens";
  if (outcome.verdict == Verdict::kLargerThanBucket) {
    return StrCat("Request too large for ", model, " (", bucket.owner, ") on ", what, " per ",
                  bucket.unit, ": Limit ", Whole(bucket.params), ", Requested about ",
                  input_tokens, ". It can never fit this limit: shorten the prompt.");
  }
  std::string message = StrCat("Rate limit reached for ", model, " (", bucket.owner, ") on ", what,
                               " per ", bucket.unit, ": Limit ", Whole(bucket.params));
  if (bucket.resource == Resource::kInputTokens) {
    for (const Entry& entry : buckets_) {
      if (&entry.bucket == &bucket) StrAppend(message, ", Remaining ", entry.state.remaining);
    }
    StrAppend(message, ", Requested about ", input_tokens);
  }
  StrAppend(message, ". Please try again in ", FormatReset(outcome.retry_after_us), ".");
  return message;
}

int64_t RetryAfterSeconds(const LimitOutcome& outcome) {
  if (outcome.verdict != Verdict::kExceeded || outcome.retry_after_us <= 0) return 0;
  return std::max<int64_t>((outcome.retry_after_us + 999999) / 1000000, 1);
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

}  // namespace pdgate::limits
