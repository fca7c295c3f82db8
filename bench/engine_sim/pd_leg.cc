#include "bench/engine_sim/pd_leg.h"

#include "base/strings.h"

namespace pdgate::sim {

std::optional<ParseError> ChoosePdLeg(const OpenAiRequest& request, EngineKind engine, Role role,
                                      int default_bootstrap_port, int& max_tokens, SeqSpec& spec) {
  if (engine == EngineKind::kVllm) {
    if (!request.kv_transfer_params) return std::nullopt;
    const KvTransferParams& kv = *request.kv_transfer_params;
    if (kv.do_remote_decode) {
      if (role == Role::kDecode) {
        return ParseError{400,
                          "This engine is a decode instance (kv_consumer); it cannot prefill for a "
                          "remote decode."};
      }
      if (request.stream) {
        return ParseError{400,
                          "Prefill requests with kv_transfer_params.do_remote_decode must not be "
                          "streamed (stream=false)."};
      }
      if (max_tokens != 1) {
        return ParseError{400, StrCat("Prefill requests with kv_transfer_params.do_remote_decode "
                                      "must have max_tokens=1, got ",
                                      max_tokens, ".")};
      }
      spec.pd = PdMode::kVllmPrefill;
    } else if (kv.do_remote_prefill) {
      if (role == Role::kPrefill) {
        return ParseError{
            400,
            "This engine is a prefill instance (kv_producer); it cannot decode from remote KV."};
      }
      if (kv.remote_block_ids && kv.remote_engine_id && kv.remote_request_id && kv.remote_host &&
          kv.remote_port) {
        spec.pd = PdMode::kVllmDecode;
        spec.remote = kv;
      }
    }
    return std::nullopt;
  }
  if (role == Role::kBoth) return std::nullopt;
  if (!request.bootstrap) {
    return ParseError{
        400,
        "A disaggregated SGLang engine needs bootstrap_host, bootstrap_port and bootstrap_room."};
  }
  spec.bootstrap = request.bootstrap;
  if (spec.bootstrap->port == 0) spec.bootstrap->port = default_bootstrap_port;
  if (role == Role::kPrefill) {
    spec.pd = PdMode::kSglangPrefill;
    max_tokens = 1;  // the prefill server only prefills; its answer is not the client's
  } else {
    spec.pd = PdMode::kSglangDecode;
  }
  return std::nullopt;
}

}  // namespace pdgate::sim
