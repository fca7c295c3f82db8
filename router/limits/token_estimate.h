#pragma once
// The input-token estimate a rate limit admits a request on, before any engine has tokenized
// it. Kthena's: ceil(characters / 4) of the prompt. pdgate counts the characters (UTF-8 code
// points, not bytes: CJK text is 3 bytes a character) of the prompt's JSON as the client sent it
// (`messages` or `prompt`), so roles and punctuation count too: a slight overestimate, corrected
// after the answer with the engine's real prompt_tokens.
#include <cstdint>
#include <string_view>

namespace pdgate::limits {

int64_t EstimateInputTokens(std::string_view prompt_json);

}  // namespace pdgate::limits
