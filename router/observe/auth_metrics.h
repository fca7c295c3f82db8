#pragma once
// The pdgate_auth_* families. No label names a user or a key: their number is unbounded, so who
// was refused goes to the access log, and the metrics say how and why.
#include <array>
#include <memory>
#include <vector>

#include "router/auth/authenticator.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace pdgate::router {

class RouterMetrics;
class ShardedCounter;

// What every request counts is sharded (no cache line written by every io thread); the JWKS
// fetches, counted on the control thread, are prometheus-cpp's.
struct AuthMetrics {
  // pdgate_auth_requests_total{method, result}, [AuthMethod][AuthResult]; null for pairs that
  // cannot occur.
  std::array<std::array<ShardedCounter*, size_t(auth::AuthResult::kCount)>, 3> requests{};
  ShardedCounter* forbidden = nullptr;   // pdgate_auth_forbidden_total (model not allowed)
  ShardedCounter* cache_hits = nullptr;  // pdgate_auth_token_cache_total{result}
  ShardedCounter* cache_misses = nullptr;
  prometheus::Counter* jwks_ok = nullptr;  // pdgate_auth_jwks_fetches_total{result}
  prometheus::Counter* jwks_failed = nullptr;
  prometheus::Gauge* jwks_keys = nullptr;  // pdgate_auth_jwks_keys
  // pdgate_auth_jwks_last_success_timestamp_seconds
  prometheus::Gauge* jwks_last_success = nullptr;

  // Counts one authentication (its method and result, and the cache for JWTs).
  void Count(const auth::Authentication& authentication) const;
  void CountFetch(bool ok, size_t keys, double now_unix_seconds) const;

  std::vector<std::shared_ptr<ShardedCounter>> held;  // keeps the sharded series exposed
};

// Registers the families in `metrics`; call once per process, before serving.
std::unique_ptr<AuthMetrics> RegisterAuthMetrics(RouterMetrics& metrics);

}  // namespace pdgate::router
