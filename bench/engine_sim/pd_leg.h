#pragma once
// Which PD leg a request is on this engine, validated the way the real engine validates it:
//   vLLM:   kv_transfer_params.do_remote_decode → the prefill leg (non-streaming, max_tokens 1);
//           do_remote_prefill with complete remote_* fields → the decode leg (pull first);
//           incomplete fields are ignored (vLLM logs a warning and prefills locally).
//   SGLang: on a prefill or decode instance the bootstrap trio is mandatory; the prefill
//           computes one token, the decode waits for the room's KV.
#include <optional>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/options.h"
#include "bench/engine_sim/request.h"

namespace pdgate::sim {

// Fills spec.pd, spec.remote, spec.bootstrap and may lower `max_tokens`. Returns the client error
// when the request cannot run on this engine.
std::optional<ParseError> ChoosePdLeg(const OpenAiRequest& request, EngineKind engine, Role role,
                                      int default_bootstrap_port, int& max_tokens, SeqSpec& spec);

}  // namespace pdgate::sim
