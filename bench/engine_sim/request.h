#pragma once
// One OpenAI request as the simulator needs it: parsed in one forward pass (simdjson On-Demand,
// unescaped keys, unknown fields ignored as vLLM's extra="allow" does) and validated like vLLM.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/engine_sim/tokenizer.h"

namespace pdgate::sim {

enum class Api { kCompletions, kChat };

// The fields of kv_transfer_params (vLLM NixlConnector / Ascend MooncakeConnectorV1).
struct KvTransferParams {
  bool do_remote_decode = false;
  bool do_remote_prefill = false;
  std::optional<std::string> remote_engine_id;
  std::optional<std::vector<int64_t>> remote_block_ids;  // flattened over KV-cache groups
  std::optional<std::string> remote_request_id;
  std::optional<std::string> remote_host;
  std::optional<int64_t> remote_port;
  std::optional<int64_t> tp_size;
};

struct SglangBootstrap {
  std::string host;
  int64_t port = 0;
  uint64_t room = 0;
};

struct OpenAiRequest {
  Api api = Api::kCompletions;
  std::optional<std::string> model;
  std::vector<TokenId> prompt;
  bool stream = false;
  bool has_stream_options = false;
  bool include_usage = false;
  bool continuous_usage_stats = false;
  std::optional<int64_t> max_tokens;  // max_completion_tokens wins for chat
  int64_t min_tokens = 0;
  bool ignore_eos = false;
  uint64_t seed = 0;
  std::optional<KvTransferParams> kv_transfer_params;
  std::optional<SglangBootstrap> bootstrap;
  std::string rid;         // SGLang's request id (body), used by /abort_request
  std::string request_id;  // vLLM's body request_id extension
};

struct ParseError {
  int status = 400;
  std::string message;
};

// `body` must have at least 64 bytes of readable capacity after its size (simdjson padding):
// pass the std::string the HTTP layer read into, it is reserved here if needed.
std::optional<ParseError> ParseOpenAiRequest(Api api, std::string& body, OpenAiRequest& out);

// vLLM's POST /tokenize: {model?, prompt} (a string, or token ids taken as they are) or
// {model?, messages, add_generation_prompt = true}. The tokens are exactly those the completions
// and chat endpoints compute for the same prompt or messages. Same padding rule as above.
struct TokenizeRequest {
  std::optional<std::string> model;
  std::vector<TokenId> tokens;
};
std::optional<ParseError> ParseTokenizeRequest(std::string& body, TokenizeRequest& out);

}  // namespace pdgate::sim
