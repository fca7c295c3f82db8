#pragma once
// The token ids of a request's prompt, for kvcache-aware scoring: taken from the request when
// its prompt is already ids (/v1/completions with `prompt: [int, ...]`), else asked of an
// engine's /tokenize (vLLM's shape, which SGLang serves too: research round2.md §A.6). No I/O
// here: the bodies and answers as bytes.
#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "router/openai/openai_request.h"

namespace pdgate::router {

// A prompt given as token ids: a JSON array of integers in [0, 2^32). nullopt for anything
// else (a string, a batch of prompts, an array of arrays).
std::optional<std::vector<uint32_t>> PromptTokenIds(std::string_view prompt_json);

// POST /tokenize: {"model", "messages", "add_generation_prompt": true} for a chat request (the
// engine renders its own chat template, as for the completion), {"model", "prompt"} otherwise.
// The client's members that change what is rendered or tokenized (tools, chat_template,
// chat_template_kwargs, continue_final_message, add_generation_prompt, add_special_tokens) are
// copied from `body` as sent. `model_json` is a JSON string value.
std::string TokenizeBody(const OpenAIRequest& request, std::string_view body,
                         std::string_view model_json, bool chat);

// The cache key of a chat tokenize `body` (from TokenizeBody) without its last message: requests
// that differ only in their last message (a shared system prompt and history, a new question)
// share it. nullopt when `messages_json` (the request's `messages`, as embedded in `body`) has
// fewer than two messages. Never equal to the hash of a whole body but by chance.
std::optional<uint64_t> PromptPrefixKey(std::string_view body, std::string_view messages_json);

// The answer's `tokens` (`{"count", "max_model_len", "tokens": [...]}`). InvalidArgument when it
// is not that shape or holds more than `max_tokens` ids.
absl::StatusOr<std::vector<uint32_t>> ParseTokenizeAnswer(std::string_view body, size_t max_tokens);

}  // namespace pdgate::router
