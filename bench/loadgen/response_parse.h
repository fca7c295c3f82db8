#pragma once
// Reading what an OpenAI server sends: SSE framing (events split on a blank line, "data:" lines
// joined) and the few fields the metrics need from each chunk or body. Pure, unit-tested.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::loadgen {

class SseParser {
 public:
  // Appends the data payloads of the events completed by `bytes` to `events` (cleared first).
  void Feed(std::string_view bytes, std::vector<std::string>& events);
  // Bytes of an unfinished event (non-empty at the end of a stream: truncated).
  bool HasPartial() const { return !pending_.empty(); }

 private:
  std::string pending_;
};

struct Usage {
  int64_t prompt_tokens = -1;
  int64_t completion_tokens = -1;
  int64_t cached_tokens = 0;
};

struct ChunkInfo {
  bool parsed = false;
  bool has_choices = false;  // a non-empty choices array
  bool has_content = false;  // choices[0].delta.content (chat) or choices[0].text non-empty
  bool is_error = false;     // {"error": ...}
  std::optional<Usage> usage;
};

// One streamed chunk or one whole non-streamed body (chat or completions; for a body,
// has_content means the first choice carries a message or text).
ChunkInfo InspectChunk(std::string_view json);

}  // namespace pdgate::loadgen
