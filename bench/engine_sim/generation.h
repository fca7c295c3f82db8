#pragma once
// Deterministic output: the generated tokens are a pure function of (prompt tokens, seed), so a
// test at the far end of a router can recompute exactly what the decode engine produced and check
// that the client received it in order, once. Real engines with temperature 0 behave alike: the
// output depends only on the prompt.
//
// Output token i (0-based) is " " + kWords[h(prompt, seed, i) % 64]. The sequence "naturally"
// ends with an EOS token at position NaturalLength()-1 (EOS has empty text but counts as a
// completion token, as in vLLM). NaturalLength is 8 + h % 120, except that one prompt in 256
// stops at once (length 1: an EOS as first token, the "early stop" a PD prefill can hit).
#include <cstdint>
#include <span>
#include <string_view>

#include "bench/engine_sim/tokenizer.h"

namespace pdgate::sim {

enum class FinishReason { kStop, kLength, kAbort, kError };
std::string_view FinishReasonName(FinishReason reason);

struct GenerationKey {
  uint64_t prompt_hash = 0;
  uint64_t seed = 0;
};

GenerationKey MakeGenerationKey(std::span<const TokenId> prompt, uint64_t seed);

// Tokens until (and including) EOS when nothing caps or suppresses it.
int NaturalLength(const GenerationKey& key);

// The word at output position `index` when no EOS is there.
std::string_view OutputPiece(const GenerationKey& key, int index);

struct OutputPlan {
  int tokens = 0;  // completion tokens, EOS included
  FinishReason finish = FinishReason::kStop;
  bool ends_with_eos = false;  // the last token is EOS (empty text)
};

// What vLLM would do with max_tokens / min_tokens / ignore_eos: EOS is suppressed before
// min_tokens and with ignore_eos; max_tokens caps the output with finish_reason "length".
OutputPlan PlanOutput(const GenerationKey& key, int max_tokens, int min_tokens, bool ignore_eos);

// The text of output token `index` under `plan` ("" for a final EOS).
std::string_view TokenText(const GenerationKey& key, const OutputPlan& plan, int index);

}  // namespace pdgate::sim
