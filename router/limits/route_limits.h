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
#include "router/limits/limit_check.h"

namespace pdgate::limits {

// The local state of one route's buckets; shared by every io thread, kept across reloads.
struct TokenBuckets {
  std::atomic<int64_t> input{0};
  std::atomic<int64_t> output{0};
};

struct RouteLimit {
  const config::ModelRoute* route = nullptr;
  std::string key;    // "namespace/name": metric label, and the Redis key's hash tag
  std::string owner;  // "route namespace/name", for messages
  std::optional<GcraParams> input;
  std::optional<GcraParams> output;
  std::string_view unit;                     // "second" … "month", for messages
  std::optional<std::string> redis_address;  // global: one bucket for every replica
  std::string redis_host;                    // redis_address split (config checked it)
  uint16_t redis_port = 0;
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

// Adds the route's buckets (input, output) to a request's check.
void AddBuckets(const RouteLimit& limit, LimitCheck& check);

}  // namespace pdgate::limits
