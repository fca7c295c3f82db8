#pragma once
// One SGLang PD attempt: prefill and decode sent at once with the bootstrap trio, a fresh room
// and a prefix-free rid; a failed prefill aborts the waiting decode, a departed client both legs.
#include <optional>

#include "router/flow/attempt_error.h"
#include "router/flow/request_context.h"

namespace pdgate::router {

// `prefill_tokens`: the scheduler's estimate of the prefill's work, counted on its endpoint.
Task<std::optional<AttemptError>> RunSglangAttempt(RequestContext& context,
                                                             const discovery::Endpoint& prefill,
                                                             const discovery::Endpoint& decode,
                                                             int64_t prefill_tokens);

}  // namespace pdgate::router
