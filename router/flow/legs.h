#pragma once
// The legs of an attempt. The prefill leg reads the engine's whole JSON answer and returns its
// kv_transfer_params; the decode leg (also an aggregated server's only leg) relays the engine's
// answer to the client. Both record their outcome in metrics and the access log.
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "router/flow/flow.h"

namespace pdgate::router {

// The prefill's kv_transfer_params bytes (empty: none, e.g. an early stop), or why it failed.
using PrefillResult = std::variant<std::string, AttemptError>;

net::awaitable<PrefillResult> RunPrefill(Flow& flow, const discovery::Endpoint& endpoint);

// Sends `body` (moved from) and relays the answer. Returns an error only while nothing has
// reached the client. `legs` is the watch the leg registers with (closed on client disconnect).
net::awaitable<std::optional<AttemptError>> RunDecode(Flow& flow,
                                                      const discovery::Endpoint& endpoint,
                                                      std::string& body, std::string_view leg_name,
                                                      const std::shared_ptr<DisconnectWatch>& legs);

}  // namespace pdgate::router
