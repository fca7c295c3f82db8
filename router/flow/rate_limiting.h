#pragma once
// One request's rate limits, between routing and the first leg: the route's (Kthena's
// rateLimit: local buckets, or Redis-backed with `global.redis`) and the principal's
// (spec.rateLimits, local). Admission estimates the prompt's tokens and checks every bucket;
// Settle() charges the answer's real usage. A global route costs one Redis round trip (a Lua
// script over its keys) at admission; its settlement waits on this thread and rides along with
// the next check of the route (at most a few ms later it is sent alone), so that a request costs
// Redis one script call. When Redis does not answer, rateLimitRedis.onError decides: this
// replica's own bucket, no limit, or a 503.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/http/client_io.h"
#include "router/limits/gcra_script.h"
#include "router/limits/limit_check.h"
#include "router/limits/principal_limits.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

struct RateLimitMetrics;

// Why a request was refused: the answer to send.
struct LimitRefusal {
  ErrorInfo error;
  HeaderList headers;  // x-ratelimit-*, Retry-After
};

class RequestLimits {
 public:
  // Builds the request's check; empty when no limit applies.
  RequestLimits(Worker& worker, const RouterState& state, const config::ModelRoute* route,
                std::string_view model, const limits::Identity& who);
  bool empty() const { return check_.empty() && !global_; }

  // GCC 12: call with named locals only (see client_io.h).
  net::awaitable<std::optional<LimitRefusal>> Admit(std::string_view prompt_json,
                                                    std::string_view model);
  // x-ratelimit-* for the answer, once admitted.
  const HeaderList& headers() const { return headers_; }
  // The prompt's token estimate Admit() made (0 before, or without limits).
  int64_t input_estimate() const { return input_estimate_; }
  // After the answer: usage (-1: unknown); `served`: an engine answered 2xx.
  void Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served);

 private:
  net::awaitable<std::optional<LimitRefusal>> AdmitGlobal(std::string_view model);
  std::vector<limits::GcraKey> GlobalKeys() const;  // once input_estimate_ is known
  // Adds the global buckets' states to the check (headers, messages); the refusing one, if any.
  const limits::Bucket* RecordGlobal(const limits::GcraOutcome& result);

  Worker& worker_;
  const MetricHandles& metrics_;
  const limits::RouteLimit* route_ = nullptr;
  const RateLimitMetrics* route_metrics_ = nullptr;
  bool global_ = false;           // the route's buckets live in Redis
  bool global_admitted_ = false;  // Redis took this request's reservation
  limits::LimitCheck check_;
  limits::LimitCheck fallback_;  // the route's local buckets, while Redis does not answer
  std::vector<std::shared_ptr<limits::PrincipalBuckets>> principal_sets_;
  int64_t input_estimate_ = 0;
  std::vector<limits::GcraKey> global_keys_;  // GlobalKeys(), for the check and the settlement
  HeaderList headers_;
};

}  // namespace pdgate::router
