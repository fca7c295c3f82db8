#pragma once
// The simulator's tokenizer and chat template: cheap, deterministic, documented, so that tests and
// routers can predict token counts without a real vocabulary.
//
// Rule: a token is at most 4 bytes; a new token starts at every whitespace byte that follows a
// non-whitespace byte (so " capital" becomes " cap" + "ital" and "a b" becomes "a" + " b").
// English text averages close to real BPE tokenizers' ~4 bytes per token. A token's id is the
// 32-bit xxHash of its bytes, so equal text always gives equal ids (what prefix caching needs).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::sim {

using TokenId = uint32_t;

std::vector<TokenId> Tokenize(std::string_view text);

struct ChatMessage {
  std::string role;
  std::string content;
};

// The fixed chat template: "<|role|>\n" content "\n" per message, then "<|assistant|>\n" (the
// generation prompt, left out when `add_generation_prompt` is false as in a Jinja template), like
// real templates that wrap each turn in role markers.
std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt = true);

}  // namespace pdgate::sim
