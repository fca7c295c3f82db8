#include "router/flow/attempt_error.h"

#include "base/strings.h"
#include "router/flow/retry_policy.h"
#include "router/openai/openai_error.h"

namespace pdgate::router {
namespace {

LegFailure FailureOf(LegStatus status) {
  switch (status) {
    case LegStatus::kConnectFailed:
    case LegStatus::kNoResources:  // another target may have a pooled connection
      return LegFailure::kConnectFailed;
    case LegStatus::kTimeout:
      return LegFailure::kTimeout;
    case LegStatus::kTooLarge:
      return LegFailure::kTooLarge;
    case LegStatus::kOk:
    case LegStatus::kTransport:
    case LegStatus::kClientGone:  // the attempt loop stops on the client's leaving anyway
      break;
  }
  return LegFailure::kTransport;
}

}  // namespace

std::string Describe(const discovery::Endpoint& endpoint) {
  return StrCat(endpoint.pod, " (", endpoint.HostPort(), ")");
}

AttemptError FromOutcome(std::string_view leg, const discovery::Endpoint& endpoint,
                         const LegOutcome& outcome) {
  AttemptError error;
  error.leg = leg;
  error.endpoint = Describe(endpoint);
  error.detail = outcome.detail;
  error.retryable = IsRetryable(FailureOf(outcome.status), 0, /*prefill_accepted=*/false);
  error.label =
      outcome.status == LegStatus::kConnectFailed || outcome.status == LegStatus::kNoResources
          ? LegOutcomeLabel::kConnectFailed
      : outcome.status == LegStatus::kTimeout ? LegOutcomeLabel::kTimeout
                                              : LegOutcomeLabel::kTransport;
  error.local = outcome.status == LegStatus::kNoResources;
  return error;
}

AttemptError FromStatus(std::string_view leg, const discovery::Endpoint& endpoint, int status,
                        std::string_view body) {
  AttemptError error;
  error.leg = leg;
  error.endpoint = Describe(endpoint);
  error.detail = StrCat("status ", status);
  error.status = status;
  error.body = NormalizeEngineError(status, body);
  error.retryable = IsRetryable(LegFailure::kHttpStatus, status, /*prefill_accepted=*/false);
  error.label = LegOutcomeLabel::kHttpError;
  return error;
}

}  // namespace pdgate::router
