#pragma once
// Response bodies and SSE events in vLLM's exact shapes (see shared/fixtures/vllm_*):
// chat.completion / text_completion objects, chat.completion.chunk / text_completion chunks, the
// final usage chunk with "choices": [], the error event, "data: [DONE]".
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/request.h"

namespace pdgate::sim {

struct ResponseContext {
  Api api = Api::kCompletions;
  std::string id;  // "chatcmpl-…" / "cmpl-…"
  int64_t created = 0;
  std::string model;
  GenerationKey key;
  OutputPlan plan;
  bool include_usage = false;
  bool continuous_usage_stats = false;
};

struct UsageNumbers {
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};

// The generated text of tokens [0, count).
std::string GeneratedText(const ResponseContext& ctx, int count);

// Non-streaming body. `kv_transfer_params` is a JSON object or empty (then null).
std::string CompletionBody(const ResponseContext& ctx, int generated, FinishReason finish,
                           const UsageNumbers& usage, std::string_view kv_transfer_params);

// The chat role chunk vLLM sends before the first token.
std::string RoleEvent(const ResponseContext& ctx, const UsageNumbers& usage);
// One event per token in [from, to); the token at plan.tokens-1 carries the finish_reason.
std::string TokenEvents(const ResponseContext& ctx, int from, int to, UsageNumbers usage);
// A final event carrying `finish` with no text (abort).
std::string FinishEvent(const ResponseContext& ctx, FinishReason finish, const UsageNumbers& usage);
std::string UsageEvent(const ResponseContext& ctx, const UsageNumbers& usage);
std::string ErrorEvent(int status, std::string_view message);
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

}  // namespace pdgate::sim
