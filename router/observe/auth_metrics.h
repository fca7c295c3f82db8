#pragma once
// The pdgate_auth_* families. No label names a user or a key: their number is unbounded, so who
// was refused goes to the access log, and the metrics say how and why.
#include <array>
#include <memory>

#include "router/auth/authenticator.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
}  // namespace prometheus

namespace pdgate::router {

struct AuthMetrics {
  // pdgate_auth_requests_total{method, result}, [AuthMethod][AuthResult]; null for pairs that
  // cannot occur.
  std::array<std::array<prometheus::Counter*, size_t(auth::AuthResult::kCount)>, 3> requests{};
  prometheus::Counter* forbidden = nullptr;     // pdgate_auth_forbidden_total (model not allowed)
  prometheus::Counter* cache_hits = nullptr;    // pdgate_auth_token_cache_total{result}
  prometheus::Counter* cache_misses = nullptr;
  prometheus::Counter* jwks_ok = nullptr;       // pdgate_auth_jwks_fetches_total{result}
  prometheus::Counter* jwks_failed = nullptr;
  prometheus::Gauge* jwks_keys = nullptr;       // pdgate_auth_jwks_keys
  prometheus::Gauge* jwks_last_success = nullptr;  // pdgate_auth_jwks_last_success_timestamp_seconds

  // Counts one authentication (its method and result, and the cache for JWTs).
  void Count(const auth::Authentication& authentication) const;
  void CountFetch(bool ok, size_t keys, double now_unix_seconds) const;
};

// Registers the families in `registry`; call once per process.
std::unique_ptr<AuthMetrics> RegisterAuthMetrics(prometheus::Registry& registry);

}  // namespace pdgate::router
