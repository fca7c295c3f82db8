#pragma once
// Relays an engine's 2xx answer to the client chunk by chunk: an event stream through the SSE
// filter (which hides a usage chunk the client did not ask for), any other body untouched; the
// answer's token usage is read on the way.
#include <optional>
#include <string_view>

#include "router/flow/attempt_error.h"
#include "router/flow/request_context.h"

namespace pdgate::router {

// `parser` has read the head of the engine's 2xx answer. Returns an error only while nothing
// has reached the client; afterwards a broken answer ends the client's with an error event.
Task<std::optional<AttemptError>> RelayAnswer(RequestContext& context, UpstreamLeg& leg,
                                              EngineResponseParser& parser,
                                              const discovery::Endpoint& endpoint,
                                              std::string_view leg_name);

}  // namespace pdgate::router
