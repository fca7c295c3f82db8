#pragma once
// One request's rate limits, between routing and the first leg: the route's (Kthena's
// rateLimit) and the principal's (spec.rateLimits), each local or, with `global.redis`, in Redis.
// Admission estimates the prompt's tokens and checks every bucket; Settle() charges the answer's
// real usage. Each set of buckets in Redis (the route's, or one principal's under one limit: one
// hash tag each) costs one round trip (a Lua script over its keys) at admission, one after the
// other, the local buckets first; a refusal gives back what the others took. Settlement waits on
// this thread and rides along with the next check of the same hash tag (at most a few ms later
// it is sent alone), so that a set costs Redis one script call per request. When Redis does not
// answer, rateLimitRedis.onError decides: this replica's own buckets, no limit, or a 503.
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

namespace pdgate::limits {
struct RouteLimit;
}  // namespace pdgate::limits

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
  bool empty() const { return check_.empty() && globals_.empty(); }

  // GCC 12: call with named locals only (see client_io.h).
  Task<std::optional<LimitRefusal>> Admit(std::string_view prompt_json,
                                                    std::string_view model);
  // x-ratelimit-* for the answer, once admitted.
  const HeaderList& headers() const { return headers_; }
  // The prompt's token estimate Admit() made (0 before, or without limits).
  int64_t input_estimate() const { return input_estimate_; }
  // After the answer: usage (-1: unknown); `served`: an engine answered 2xx.
  void Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served);

 private:
  // Buckets that live in Redis under one hash tag: the route's, or one principal's under one
  // limit.
  struct GlobalSet {
    const limits::RouteLimit* route = nullptr;          // the route's set, or
    int principal = -1;                                 // the principal limit's index
    const std::string* host = nullptr;  // in the route's or the limit's settings
    uint16_t port = 0;
    std::vector<limits::Bucket> buckets;  // per key: what headers and messages show (tat null)
    std::vector<limits::GcraKey> keys;    // built once input_estimate_ is known
    bool admitted = false;                // Redis took this request's reservation
  };

  // GCC 12: call with named locals only.
  Task<std::optional<LimitRefusal>> AdmitGlobal(std::string_view model);
  void BuildKeys(GlobalSet& set) const;
  // Adds the set's states to the check (headers, messages); the refusing bucket, if any.
  const limits::Bucket* RecordGlobal(const GlobalSet& set, const limits::GcraOutcome& result);
  // This replica's own buckets standing in for the set while Redis does not answer.
  void AddFallback(const GlobalSet& set);
  // Gives back what admitted sets took (a later set refused).
  void RefundGlobal();
  void Debit(const GlobalSet& set, size_t key, double cost);

  Worker& worker_;
  const RouterState& state_;
  const MetricHandles& metrics_;
  limits::Identity who_;
  const limits::RouteLimit* route_ = nullptr;
  const RateLimitMetrics* route_metrics_ = nullptr;
  limits::LimitCheck check_;
  limits::LimitCheck fallback_;  // local buckets of the sets Redis did not answer for
  std::vector<std::shared_ptr<limits::PrincipalBuckets>> principal_sets_;
  std::vector<GlobalSet> globals_;
  int64_t input_estimate_ = 0;
  HeaderList headers_;
};

}  // namespace pdgate::router
