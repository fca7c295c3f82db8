#pragma once
// Builds the body of each upstream leg from the client's body by splicing top-level members:
// untouched members (the prompt above all) keep the client's exact bytes; edited members keep the
// client's key bytes with a new value; added members go at the end.
#include <optional>
#include <string>
#include <string_view>

#include "config/model_server.h"
#include "router/openai/openai_request.h"

namespace pdgate::router {

struct SglangBootstrap {
  std::string_view host;  // the prefill endpoint's address
  int port = 8998;
  uint64_t room = 0;
  std::string_view rid;  // router-owned request id, unique and prefix-free
};

// What every leg shares: the (possibly rewritten) model, as a JSON string value.
struct LegContext {
  std::string_view body;
  const OpenAIRequest* request = nullptr;
  std::string model_json;  // empty: keep the client's `model`
};

// Prefill leg. All connectors: stream false, stream_options removed, max_tokens 1 (and
// max_completion_tokens 1 if present), min_tokens/min_completion_tokens removed.
// nixl/mooncake add the kv_transfer_params skeleton (do_remote_decode); mooncake adds min_tokens 1
// (vLLM-Ascend's proxy); sglang adds the bootstrap fields.
std::string BuildPrefillBody(const LegContext& leg, config::KvConnector connector,
                             const SglangBootstrap* bootstrap = nullptr);

// Decode leg (and the aggregated leg): the client's body, with `kv_transfer_params_json` (bytes
// of the prefill's object, copied as they came) when not empty, the bootstrap fields for sglang,
// and stream_options.include_usage forced on when `inject_usage` (the caller hides that chunk).
std::string BuildDecodeBody(const LegContext& leg, std::string_view kv_transfer_params_json,
                            bool inject_usage, const SglangBootstrap* bootstrap = nullptr);
// The same, or nullopt when it would change nothing but the blanks between members (no
// router-owned key sent, no model rewrite, nothing to add): the client's bytes then go as they
// came, with no copy and no splice.
std::optional<std::string> DecodeBodyUnlessClients(const LegContext& leg,
                                                   std::string_view kv_transfer_params_json,
                                                   bool inject_usage);

// The `kv_transfer_params` object of a prefill's answer, byte for byte; empty when absent, null (an
// early stop: legal, the decode recomputes) or not JSON. `answer` gets kJsonPadding bytes of
// capacity (simdjson reads past the end).
std::string ExtractKvTransferParams(std::string& answer);

}  // namespace pdgate::router
