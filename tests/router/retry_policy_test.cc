// The retry rules, one by one (router/flow/retry_policy.h).
#include "router/flow/retry_policy.h"

#include <catch2/catch.hpp>

using namespace pdgate::router;

TEST_CASE("retries are for broken connections, timeouts and gateway answers") {
  CHECK(IsRetryable(LegFailure::kConnectFailed, 0, false));
  CHECK(IsRetryable(LegFailure::kTimeout, 0, false));
  CHECK(IsRetryable(LegFailure::kTransport, 0, false));
  for (int status : {502, 503, 504}) {
    INFO(status);
    CHECK(IsRetryable(LegFailure::kHttpStatus, status, false));
    CHECK(IsRetryable(LegFailure::kHttpStatus, status, true));
  }
}

TEST_CASE("an answer too large, or refused for the request itself, is not retried") {
  CHECK_FALSE(IsRetryable(LegFailure::kTooLarge, 0, false));
  CHECK_FALSE(IsRetryable(LegFailure::kTooLarge, 0, true));
  for (int status : {400, 401, 404, 413, 422, 429, 501}) {
    INFO(status);
    CHECK_FALSE(IsRetryable(LegFailure::kHttpStatus, status, false));
    CHECK_FALSE(IsRetryable(LegFailure::kHttpStatus, status, true));
  }
}

TEST_CASE("a decode's 500 is retried only after its prefill accepted the request") {
  // vLLM's decode answers 500 when it cannot load the KV of a prefill that just died.
  CHECK(IsRetryable(LegFailure::kHttpStatus, 500, /*prefill_accepted=*/true));
  // An aggregated engine's (or a prefill's) 500 is the request's own failure.
  CHECK_FALSE(IsRetryable(LegFailure::kHttpStatus, 500, /*prefill_accepted=*/false));
}

TEST_CASE("after a failure: retry while attempts are left, else answer, and stop once committed") {
  FailedAttempt failed;
  failed.retryable = true;
  failed.tries = 3;
  failed.attempt = 0;
  CHECK(Decide(failed) == AfterFailure::kRetry);
  failed.attempt = 1;
  CHECK(Decide(failed) == AfterFailure::kRetry);
  failed.attempt = 2;  // the last one
  CHECK(Decide(failed) == AfterFailure::kAnswer);

  failed.attempt = 0;
  failed.retryable = false;
  CHECK(Decide(failed) == AfterFailure::kAnswer);

  // Part of an answer reached the client: nothing can be retried or sent in its place.
  failed.retryable = true;
  failed.committed = true;
  CHECK(Decide(failed) == AfterFailure::kStop);
  failed.committed = false;
  failed.client_gone = true;
  CHECK(Decide(failed) == AfterFailure::kStop);

  // No retries configured: one attempt, answered.
  FailedAttempt single;
  single.retryable = true;
  single.tries = 1;
  CHECK(Decide(single) == AfterFailure::kAnswer);
}

TEST_CASE("attempts take each target once, best first, then start over") {
  CHECK(TargetOf(0, 2) == 0);
  CHECK(TargetOf(1, 2) == 1);
  CHECK(TargetOf(2, 2) == 0);
  CHECK(TargetOf(3, 1) == 0);
}
