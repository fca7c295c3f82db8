#pragma once
// One SGLang PD attempt: prefill and decode sent at once with the bootstrap trio, a fresh room
// and a prefix-free rid; a failed prefill aborts the waiting decode, a departed client both legs.
#include <optional>

#include "router/flow/flow.h"

namespace pdgate::router {

net::awaitable<std::optional<AttemptError>> RunSglangAttempt(Flow& flow,
                                                             const discovery::Endpoint& prefill,
                                                             const discovery::Endpoint& decode);

}  // namespace pdgate::router
