#pragma once
// Prompts to send, seeded and reproducible (same seed and flags → same bytes, same order):
//   random        lengths uniform in [L(1−r), L(1+r)] (vLLM's --random-range-ratio), optional
//                 shared prefix of P tokens ahead of every prompt
//   shared-prefix groups × prompts per group: one system prompt per group, a question per prompt
//                 (inference-perf's shared_prefix), for prefix-cache-aware routing
//   sharegpt      a ShareGPT JSON file: first human turn → prompt, the reply's length → output
//                 length; vLLM's filters (both ≥ 4 tokens, prompt ≤ 1024, total ≤ 2048)
// Text is made of 3-letter words, each " abc" one token for pdgate-engine-sim's tokenizer (and
// about one for real BPE vocabularies), so the token counts asked for are the counts sent.
#include <absl/status/statusor.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::loadgen {

struct Prompt {
  std::string system;  // empty: no system message
  std::string text;
  int64_t prompt_tokens = 0;  // estimate
  int64_t output_tokens = 0;  // max_tokens to ask for
};

struct RandomSpec {
  int64_t input_len = 1024, output_len = 128, prefix_len = 0;
  double range_ratio = 0;
};
std::vector<Prompt> RandomPrompts(const RandomSpec& spec, size_t count, uint64_t seed);

struct SharedPrefixSpec {
  int64_t groups = 10, prompts_per_group = 10, system_len = 100, question_len = 100,
          output_len = 100;
};
// Ordered group-interleaved (g0p0, g1p0, …, g0p1, …) then shuffled with the seed.
std::vector<Prompt> SharedPrefixPrompts(const SharedPrefixSpec& spec, uint64_t seed);

// `count` prompts (0 = all that pass the filters), shuffled with the seed;
// `output_len` > 0 overrides the reply's length.
absl::StatusOr<std::vector<Prompt>> ShareGptPrompts(const std::string& path, size_t count,
                                                    uint64_t seed, int64_t output_len);

// Token estimate for text: each whitespace-led piece costs ceil(bytes / 4) (the sim's rule).
int64_t EstimateTokens(std::string_view text);

}  // namespace pdgate::loadgen
