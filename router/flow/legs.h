#pragma once
// The legs of an attempt. The prefill leg reads the engine's whole JSON answer and returns its
// kv_transfer_params; the decode leg (also an aggregated server's only leg) has the engine's
// answer relayed to the client (decode_relay.h). Each leg is counted in flight on its endpoint,
// reported to the endpoint's outlier detection and to the request's observer.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "router/flow/attempt_error.h"
#include "router/flow/request_context.h"

namespace pdgate::router {

// The prefill's kv_transfer_params bytes (empty: none, e.g. an early stop), or why it failed.
using PrefillResult = std::variant<std::string, AttemptError>;

// `prefill_tokens`: the scheduler's estimate of the leg's work, counted on the endpoint.
Task<PrefillResult> RunPrefill(RequestContext& context, const discovery::Endpoint& endpoint,
                               int64_t prefill_tokens);

// Sends `body` (moved from; nullopt: the client's body as it came) and relays the answer. Returns
// an error only while nothing has reached the client. `legs` is the watch the leg registers with
// (closed on client disconnect).
Task<std::optional<AttemptError>> RunDecode(RequestContext& context,
                                            const discovery::Endpoint& endpoint,
                                            std::optional<std::string>& body,
                                            std::string_view leg_name,
                                            const std::shared_ptr<DisconnectWatch>& legs);

}  // namespace pdgate::router
