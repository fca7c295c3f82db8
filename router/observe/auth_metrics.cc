#include "router/observe/auth_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <string>

#include "router/observe/router_metrics.h"
#include "router/observe/sharded_metrics.h"

namespace pdgate::router {

using auth::AuthMethod;
using auth::AuthResult;

void AuthMetrics::Count(const auth::Authentication& authentication) const {
  if (ShardedCounter* counter =
          requests[size_t(authentication.method)][size_t(authentication.result)]) {
    counter->Increment();
  }
  if (authentication.method == AuthMethod::kJwt && authentication.ok()) {
    (authentication.cache_hit ? cache_hits : cache_misses)->Increment();
  }
}

void AuthMetrics::CountFetch(bool ok, size_t keys, double now_unix_seconds) const {
  (ok ? jwks_ok : jwks_failed)->Increment();
  jwks_keys->Set(double(keys));
  if (ok) jwks_last_success->Set(now_unix_seconds);
}

std::unique_ptr<AuthMetrics> RegisterAuthMetrics(RouterMetrics& router_metrics) {
  auto metrics = std::make_unique<AuthMetrics>();
  auto hold = [&](std::shared_ptr<ShardedCounter> counter) {
    metrics->held.push_back(std::move(counter));
    return metrics->held.back().get();
  };
  auto& requests = router_metrics.AddCounterFamily(
      "pdgate_auth_requests_total", "Authentications of /v1/* requests by method and result");
  auto add = [&](AuthMethod method, AuthResult result) {
    metrics->requests[size_t(method)][size_t(result)] =
        hold(requests.Add({{"method", std::string(auth::ToString(method))},
                           {"result", std::string(auth::ToString(result))}}));
  };
  add(AuthMethod::kNone, AuthResult::kMissingCredential);
  add(AuthMethod::kNone, AuthResult::kMalformedHeader);
  add(AuthMethod::kApiKey, AuthResult::kOk);
  add(AuthMethod::kApiKey, AuthResult::kUnknownApiKey);
  add(AuthMethod::kApiKey, AuthResult::kMethodNotEnabled);
  add(AuthMethod::kJwt, AuthResult::kOk);
  add(AuthMethod::kJwt, AuthResult::kJwksUnavailable);
  for (size_t r = size_t(AuthResult::kJwtMalformed); r < size_t(AuthResult::kCount); ++r) {
    add(AuthMethod::kJwt, AuthResult(r));
  }
  metrics->forbidden =
      hold(router_metrics
               .AddCounterFamily("pdgate_auth_forbidden_total",
                                 "Authenticated requests refused: the model is not allowed")
               .Add({}));
  auto& cache = router_metrics.AddCounterFamily(
      "pdgate_auth_token_cache_total",
      "Accepted JWTs found in the verified-token cache (hit) or verified");
  metrics->cache_hits = hold(cache.Add({{"result", "hit"}}));
  metrics->cache_misses = hold(cache.Add({{"result", "miss"}}));
  prometheus::Registry& registry = router_metrics.registry();
  auto& fetches = prometheus::BuildCounter()
                      .Name("pdgate_auth_jwks_fetches_total")
                      .Help("JWKS fetches by result; a failure keeps the last good key set")
                      .Register(registry);
  metrics->jwks_ok = &fetches.Add({{"result", "success"}});
  metrics->jwks_failed = &fetches.Add({{"result", "failure"}});
  metrics->jwks_keys = &prometheus::BuildGauge()
                            .Name("pdgate_auth_jwks_keys")
                            .Help("Keys in the JWT key set in use")
                            .Register(registry)
                            .Add({});
  metrics->jwks_last_success =
      &prometheus::BuildGauge()
           .Name("pdgate_auth_jwks_last_success_timestamp_seconds")
           .Help("When the JWKS was last fetched successfully (Unix time); 0: never")
           .Register(registry)
           .Add({});
  return metrics;
}

}  // namespace pdgate::router
