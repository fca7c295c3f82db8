#pragma once
// Kthena's ModelRoute `rateLimit`, enforced: an input-token and an output-token bucket per route
// (GCRA, router/limits/gcra.h). Admission estimates the prompt's tokens and takes them from the
// input bucket; the output bucket must have one token left (Kthena's rule). After the answer,
// Settle() charges the engine's real usage: the output tokens, and the difference between the
// input estimate and the real prompt tokens.
//
// What pdgate does unlike Kthena (volcano-sh/kthena, pkg/kthena-router/filters/ratelimit):
//   - The bucket key is the ModelRoute (namespace/name), not the model name: two routes for one
//     model (e.g. split by header) keep their own budgets instead of one overwriting the other.
//   - Output over budget is charged (into debt), not forgiven.
//   - A request larger than the whole input bucket is refused as such (it could never pass),
//     not left to retry forever.
//   - A reload that removes or changes `rateLimit` applies at once (Kthena #1505): the table is
//     rebuilt with each configuration, and a bucket carries over only when its limit is the same.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "router/limits/gcra.h"

namespace pdgate::limits {

// The local state of one route's buckets; shared by every io thread, kept across reloads.
struct TokenBuckets {
  std::atomic<int64_t> input{0};
  std::atomic<int64_t> output{0};
};

struct RouteLimit {
  const config::ModelRoute* route = nullptr;
  std::string key;  // "namespace/name": metric label, and the Redis key's hash tag
  std::optional<GcraParams> input;
  std::optional<GcraParams> output;
  std::string_view unit;                     // "second" … "month", for messages
  std::optional<std::string> redis_address;  // global: one bucket for every replica
  std::shared_ptr<TokenBuckets> buckets;     // local buckets (global ones live in Redis)
};

class RouteLimits {
 public:
  // `previous`: the table being replaced; a route whose limit is unchanged keeps its buckets.
  RouteLimits(const config::Config& config, const RouteLimits* previous);

  const RouteLimit* Find(const config::ModelRoute* route) const;
  const std::vector<RouteLimit>& all() const { return limits_; }
  bool empty() const { return limits_.empty(); }

 private:
  std::vector<RouteLimit> limits_;
};

enum class Verdict { kAllowed, kInputExceeded, kOutputExceeded, kLargerThanBucket };

struct Admission {
  Verdict verdict = Verdict::kAllowed;
  int64_t retry_after_us = 0;
  GcraDecision input;   // after this request's reservation
  GcraDecision output;  // after the check
  bool allowed() const { return verdict == Verdict::kAllowed; }
};

// The local buckets. `now_us`: a monotonic clock in microseconds.
Admission AdmitLocal(const RouteLimit& limit, int64_t input_tokens, int64_t now_us);
// After the answer: `prompt_tokens`/`completion_tokens` from usage (-1: unknown). A request that
// reached no engine (`served` false) gets its input reservation back.
void SettleLocal(const RouteLimit& limit, int64_t input_estimate, int64_t prompt_tokens,
                 int64_t completion_tokens, bool served, int64_t now_us);

// OpenAI's x-ratelimit-{limit,remaining,reset}-tokens for the input bucket, and
// x-ratelimit-*-output-tokens for the output bucket.
using HeaderList = std::vector<std::pair<std::string_view, std::string>>;
void AppendRateLimitHeaders(const RouteLimit& limit, const Admission& admission,
                            HeaderList& headers);
// The 429's message (OpenAI's wording) and its Retry-After in whole seconds (0: none).
std::string RefusalMessage(const RouteLimit& limit, const Admission& admission,
                           std::string_view model, int64_t input_tokens);
int64_t RetryAfterSeconds(const Admission& admission);
// Go's duration style, as OpenAI's reset headers: "644ms", "1s", "6m0s", "1h2m3s".
std::string FormatReset(int64_t microseconds);

}  // namespace pdgate::limits
