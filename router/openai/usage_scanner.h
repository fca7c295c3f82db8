#pragma once
// Finds the `usage` of a non-streamed JSON response while the body is relayed, chunk by chunk:
// vLLM and SGLang put it near the end (vLLM: `usage`, then `prompt_logprobs`,
// `kv_transfer_params`; SGLang: `usage`, then `metadata`), so neither waiting for the whole body
// nor keeping a fixed tail would do. The scanner tracks depth and strings, and keeps only the
// value of the top-level key `usage` (bounded); a "usage" inside generated text is a string's
// content and never matches. Memory: O(1) plus the captured object.
//
// It reads 64 bytes a step, as simdjson's first stage does: bit masks of the block's quotes,
// backslashes and brackets give which bytes are inside strings, so only the brackets and commas
// outside strings and the quotes of top-level keys cost a step each; text costs nothing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "router/openai/sse_filter.h"

namespace pdgate::router {

class UsageScanner {
 public:
  explicit UsageScanner(size_t max_usage_bytes = 4096) : max_usage_bytes_(max_usage_bytes) {}

  void Feed(std::string_view bytes);
  // The whole body in one piece, readable up to `capacity` bytes from its start (simdjson's
  // padding): the usage is looked up where the key `"usage"` is written (32 bytes a step), its
  // object's end and whether it is a member of the root found from there on, and only that
  // object parsed, in place: a third of a parse of the whole body. When that is not plain (the
  // value is not an object, the body ends inside it, the parse fails), the body is scanned as
  // Feed scans it, so a usage is never lost to the lookup's shortcuts. A body that is not one JSON
  // document may give another usage than the scan would.
  void FeedWhole(std::string_view body, size_t capacity);
  // The usage once its object has closed; nullopt before, when absent or null, when larger than
  // the bound, or when the body is not a JSON object.
  const std::optional<Usage>& usage() const { return usage_; }

 private:
  // The `length` (at most 64) bytes at chunk + block. Returns false once nothing more is to be
  // found (done_: the usage captured, the document ended, or the capture too large).
  bool Block(const char* chunk, size_t block, size_t length);
  // A bracket or a top-level comma at chunk[at].
  void Event(const char* chunk, size_t at, char c);
  void KeepCaptured(const char* chunk, size_t end);
  void Finish();

  size_t max_usage_bytes_;
  bool started_ = false;       // the first non-blank byte was seen
  bool done_ = false;          // found, or nothing more to find
  int depth_ = 0;              // of objects and arrays
  bool in_string_ = false;     // the chunk ended inside a string
  bool escaped_next_ = false;  // the chunk ended with a backslash that escapes the next byte
  bool key_expected_ = false;  // at depth 1, the next string is a key
  bool reading_key_ = false;
  bool usage_key_ = false;  // the last top-level key was "usage"; its value not yet passed
  bool capturing_ = false;
  size_t key_from_ = 0;      // where the key being read starts in this chunk
  size_t capture_from_ = 0;  // where the usage object's bytes start in this chunk
  std::string key_;          // the key's bytes from earlier chunks (bounded: only "usage" matters)
  std::string captured_;     // the usage object's bytes
  std::optional<Usage> usage_;
};

}  // namespace pdgate::router
