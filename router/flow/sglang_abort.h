#pragma once
// SGLang's side of cancellation. A decode whose prefill failed waits for its KV up to
// SGLANG_DISAGGREGATION_WAITING_TIMEOUT (300 s) holding pre-allocated KV, because SGLang has no
// prefill-to-decode failure signal; the router tells it with POST /abort_request {"rid"}. SGLang
// aborts every request whose rid *starts with* the given one, so rids must be prefix-free: ours
// have a fixed width.
#include <random>
#include <string>

#include "discovery/endpoint_snapshot.h"
#include "router/http/net.h"
#include "router/runtime/worker.h"
#include "router/upstream/upstream_leg.h"

namespace pdgate::router {

// "pdgate-" and 32 hex digits: unique per attempt, and no rid is a prefix of another.
std::string NewSglangRid(std::mt19937_64& rng);

// The prefill pod's bootstrap port: annotation pdgate.io/sglang-bootstrap-port, else 8998
// (SGLang's --disaggregation-bootstrap-port default).
int SglangBootstrapPort(const discovery::Endpoint& prefill);

// Fire and forget (co_spawn it): POST /abort_request {"rid": rid}, 3 s at most, result ignored.
Task<void> SendSglangAbort(Worker& worker, OwnedLegTarget target, std::string rid);

}  // namespace pdgate::router
