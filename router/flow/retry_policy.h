#pragma once
// When a failed attempt is tried again on the next target, in one place: which failures a retry
// is for, when the loop stops, and which target each attempt takes. Plain data in, a decision
// out (no I/O, no clock), so every rule has a unit test (tests/router/retry_policy_test.cc).
#include <cstddef>

namespace pdgate::router {

// How a leg failed, as the retry rules see it.
enum class LegFailure {
  kConnectFailed,  // refused, unreachable, or the connect timed out
  kTimeout,        // no answer within the leg's deadline
  kTransport,      // the connection broke before an answer
  kTooLarge,       // the answer exceeded its limit
  kHttpStatus,     // the engine answered with a non-2xx status
};

// Whether another target may succeed where this one failed. `status`: the engine's status
// (kHttpStatus only). `prefill_accepted`: a decode leg whose pair's prefill accepted this very
// request; vLLM answers 500 when it cannot load the KV (e.g. from a prefill that just died), which
// is the hand-off failing, not the request.
bool IsRetryable(LegFailure failure, int status, bool prefill_accepted);

enum class AfterFailure {
  kRetry,   // wait the retry interval, then try the next target
  kAnswer,  // answer the client with this failure now
  kStop,    // nothing more to send: the client left, or already has part of an answer
};

struct FailedAttempt {
  bool retryable = false;
  bool committed = false;    // bytes of an answer reached the client
  bool client_gone = false;  // the client closed its connection
  size_t attempt = 0;        // 0-based index of the attempt that failed
  size_t tries = 1;          // attempts allowed in all (retry.attempts + 1)
};

AfterFailure Decide(const FailedAttempt& failed);

// The target of attempt `attempt` among `targets` (best first): each once in order, then again
// from the best when there are more attempts than targets.
inline size_t TargetOf(size_t attempt, size_t targets) { return attempt % targets; }

}  // namespace pdgate::router
