#include "bench/loadgen/dataset.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "base/strings.h"

namespace pdgate::loadgen {
namespace {

void AppendWords(std::string& out, int64_t tokens, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> letter(0, 25);
  for (int64_t i = 0; i < tokens; ++i) {
    if (!out.empty()) out.push_back(' ');
    for (int j = 0; j < 3; ++j) out.push_back(static_cast<char>('a' + letter(rng)));
  }
}

int64_t Jitter(int64_t len, double ratio, std::mt19937_64& rng) {
  if (ratio <= 0) return len;
  const auto lo = static_cast<int64_t>(std::floor(static_cast<double>(len) * (1 - ratio)));
  const auto hi = static_cast<int64_t>(std::ceil(static_cast<double>(len) * (1 + ratio)));
  std::uniform_int_distribution<int64_t> dist(std::max<int64_t>(lo, 1), std::max<int64_t>(hi, 1));
  return dist(rng);
}

}  // namespace

int64_t EstimateTokens(std::string_view text) {
  int64_t tokens = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    tokens += static_cast<int64_t>((j - i + 3) / 4);
    i = j;
  }
  return tokens;
}

std::vector<Prompt> RandomPrompts(const RandomSpec& spec, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string prefix;
  AppendWords(prefix, spec.prefix_len, rng);
  std::vector<Prompt> prompts;
  prompts.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    Prompt p;
    const int64_t in = Jitter(spec.input_len, spec.range_ratio, rng);
    p.output_tokens = Jitter(spec.output_len, spec.range_ratio, rng);
    p.text = prefix;
    AppendWords(p.text, in, rng);
    p.prompt_tokens = spec.prefix_len + in;
    prompts.push_back(std::move(p));
  }
  return prompts;
}

std::vector<Prompt> SharedPrefixPrompts(const SharedPrefixSpec& spec, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> systems(static_cast<size_t>(std::max<int64_t>(spec.groups, 0)));
  for (std::string& s : systems) AppendWords(s, spec.system_len, rng);
  std::vector<Prompt> prompts;
  for (int64_t q = 0; q < spec.prompts_per_group; ++q) {
    for (const std::string& system : systems) {
      Prompt p;
      p.system = system;
      AppendWords(p.text, spec.question_len, rng);
      p.prompt_tokens = spec.system_len + spec.question_len;
      p.output_tokens = spec.output_len;
      prompts.push_back(std::move(p));
    }
  }
  std::shuffle(prompts.begin(), prompts.end(), rng);
  return prompts;
}

absl::StatusOr<std::vector<Prompt>> ShareGptPrompts(const std::string& path, size_t count,
                                                    uint64_t seed, int64_t output_len) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.load(path).get(doc); error != simdjson::SUCCESS)
    return absl::InvalidArgumentError(
        StrCat("cannot read ", path, ": ", simdjson::error_message(error)));
  simdjson::dom::array entries;
  if (doc.get_array().get(entries) != simdjson::SUCCESS)
    return absl::InvalidArgumentError(StrCat(path, ": not a JSON array of conversations"));
  std::vector<Prompt> prompts;
  for (simdjson::dom::element entry : entries) {
    simdjson::dom::array turns;
    if (entry["conversations"].get_array().get(turns) != simdjson::SUCCESS) continue;
    std::string_view prompt, reply;
    size_t i = 0;
    for (simdjson::dom::element turn : turns) {
      std::string_view value;
      if (turn["value"].get_string().get(value) != simdjson::SUCCESS) break;
      if (i == 0) prompt = value;
      if (i == 1) reply = value;
      if (++i == 2) break;
    }
    if (i < 2) continue;
    Prompt p;
    p.text = std::string(prompt);
    p.prompt_tokens = EstimateTokens(prompt);
    const int64_t reply_tokens = EstimateTokens(reply);
    p.output_tokens = output_len > 0 ? output_len : reply_tokens;
    if (p.prompt_tokens < 4 || (output_len <= 0 && p.output_tokens < 4)) continue;
    if (p.prompt_tokens > 1024 || p.prompt_tokens + p.output_tokens > 2048) continue;
    prompts.push_back(std::move(p));
  }
  if (prompts.empty()) return absl::InvalidArgumentError(StrCat(path, ": no usable conversation"));
  std::mt19937_64 rng(seed);
  std::shuffle(prompts.begin(), prompts.end(), rng);
  if (count > 0 && count < prompts.size()) prompts.resize(count);
  return prompts;
}

}  // namespace pdgate::loadgen
