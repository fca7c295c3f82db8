#pragma once
// Finds the `usage` of a non-streamed JSON response while the body is relayed, chunk by chunk:
// vLLM and SGLang put it near the end (vLLM: `usage`, then `prompt_logprobs`,
// `kv_transfer_params`; SGLang: `usage`, then `metadata`), so neither waiting for the whole body
// nor keeping a fixed tail would do. A byte-level state machine tracks depth and strings, and keeps
// only the value of the top-level key `usage` (bounded); a "usage" inside generated text is a
// string's content and never matches. Memory: O(1) plus the captured object.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "router/openai/sse_filter.h"

namespace pdgate::router {

class UsageScanner {
 public:
  explicit UsageScanner(size_t max_usage_bytes = 4096) : max_usage_bytes_(max_usage_bytes) {}

  void Feed(std::string_view bytes);
  // The usage once its object has closed; nullopt before, when absent or null, when larger than
  // the bound, or when the body is not a JSON object.
  const std::optional<Usage>& usage() const { return usage_; }

 private:
  void Finish();

  size_t max_usage_bytes_;
  bool started_ = false;  // the first non-blank byte was seen
  bool done_ = false;     // found, or nothing more to find
  int depth_ = 0;         // of objects and arrays
  bool in_string_ = false;
  bool escape_ = false;        // the previous byte in a string was a backslash
  bool key_expected_ = false;  // at depth 1, the next string is a key
  bool reading_key_ = false;
  bool usage_key_ = false;  // the last top-level key was "usage"; its value not yet passed
  bool capturing_ = false;
  std::string key_;       // the top-level key being read (bounded: only "usage" matters)
  std::string captured_;  // the usage object's bytes
  std::optional<Usage> usage_;
};

}  // namespace pdgate::router
