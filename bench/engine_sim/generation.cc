#include "bench/engine_sim/generation.h"

#include <xxhash.h>

#include <algorithm>
#include <array>

namespace pdgate::sim {
namespace {

constexpr std::array<std::string_view, 64> kWords = {
    " the",   " of",    " and",   " to",    " in",     " is",    " that",  " for",
    " it",    " as",    " was",   " with",  " be",     " by",    " on",    " not",
    " he",    " this",  " are",   " or",    " his",    " from",  " at",    " which",
    " but",   " have",  " an",    " had",   " they",   " you",   " were",  " their",
    " one",   " all",   " we",    " can",   " her",    " has",   " there", " been",
    " if",    " more",  " when",  " will",  " would",  " who",   " so",    " no",
    " river", " stone", " light", " north", " garden", " paper", " cloud", " engine",
    " model", " token", " cache", " block", " router", " queue", " batch", " signal"};

uint64_t Mix(uint64_t a, uint64_t b) {
  const uint64_t words[2] = {a, b};
  return XXH3_64bits(words, sizeof(words));
}

}  // namespace

std::string_view FinishReasonName(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

GenerationKey MakeGenerationKey(std::span<const TokenId> prompt, uint64_t seed) {
  return GenerationKey{XXH3_64bits(prompt.data(), prompt.size_bytes()), seed};
}

int NaturalLength(const GenerationKey& key) {
  const uint64_t h = Mix(key.prompt_hash ^ 0x9e3779b97f4a7c15ULL, key.seed);
  if (h % 256 == 0) return 1;
  return 8 + static_cast<int>((h >> 8) % 120);
}

std::string_view OutputPiece(const GenerationKey& key, int index) {
  const uint64_t h = Mix(Mix(key.prompt_hash, key.seed), static_cast<uint64_t>(index));
  return kWords[h % kWords.size()];
}

OutputPlan PlanOutput(const GenerationKey& key, int max_tokens, int min_tokens, bool ignore_eos) {
  const int natural = NaturalLength(key);
  const bool eos_allowed = !ignore_eos && natural >= std::max(min_tokens, 1);
  if (eos_allowed && natural <= max_tokens) {
    return OutputPlan{natural, FinishReason::kStop, true};
  }
  return OutputPlan{max_tokens, FinishReason::kLength, false};
}

std::string_view TokenText(const GenerationKey& key, const OutputPlan& plan, int index) {
  if (plan.ends_with_eos && index == plan.tokens - 1) return "";
  return OutputPiece(key, index);
}

}  // namespace pdgate::sim
