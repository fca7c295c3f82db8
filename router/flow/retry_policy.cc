#include "router/flow/retry_policy.h"

namespace pdgate::router {

bool IsRetryable(LegFailure failure, int status, bool prefill_accepted) {
  switch (failure) {
    case LegFailure::kConnectFailed:
    case LegFailure::kTimeout:
    case LegFailure::kTransport:
      return true;  // what retries are for
    case LegFailure::kTooLarge:
      return false;  // just as large elsewhere
    case LegFailure::kHttpStatus:
      // Gateway and overload answers are the engine's, not the request's; a 4xx is the
      // request's own (too long, bad field) and would be refused by every engine alike.
      return status == 502 || status == 503 || status == 504 || (status == 500 && prefill_accepted);
  }
  return false;
}

AfterFailure Decide(const FailedAttempt& failed) {
  if (failed.committed || failed.client_gone) return AfterFailure::kStop;
  if (!failed.retryable || failed.attempt + 1 >= failed.tries) return AfterFailure::kAnswer;
  return AfterFailure::kRetry;
}

}  // namespace pdgate::router
