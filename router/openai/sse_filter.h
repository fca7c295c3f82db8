#pragma once
// Watches a decode stream on its way to the client. Server-sent events arrive split across TCP
// reads at arbitrary points, so bytes are cut at event boundaries (a blank line) before anything
// looks at them (aibrix#2266 is what happens otherwise). It notes the first content event and the
// usage, and drops the usage-only chunk (`"choices": []` + usage) that pdgate itself asked for.
// Memory is bounded: an event longer than `max_event_bytes` is passed on as it comes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pdgate::router {

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};

class SseFilter {
 public:
  SseFilter(bool drop_usage_chunk, size_t max_event_bytes = 1 << 20)
      : drop_usage_chunk_(drop_usage_chunk), max_event_bytes_(max_event_bytes) {}

  // Appends to `out` the bytes of every event completed by `in` that is to be forwarded.
  void Feed(std::string_view in, std::string& out);
  // End of stream: a trailing partial event is forwarded as it is.
  void Finish(std::string& out);

  bool saw_data() const { return events_ > 0; }
  bool saw_done() const { return saw_done_; }
  bool saw_error() const { return saw_error_; }
  const std::optional<Usage>& usage() const { return usage_; }
  uint64_t events() const { return events_; }

 private:
  // True when the event is to be forwarded.
  bool Inspect(std::string_view event);

  bool drop_usage_chunk_;
  size_t max_event_bytes_;
  std::string pending_;
  bool passthrough_ = false;  // an oversized event is being passed on
  bool last_was_newline_ = false;
  bool saw_done_ = false;
  bool saw_error_ = false;
  uint64_t events_ = 0;
  std::optional<Usage> usage_;
};

// Reads usage from a JSON object that has a `usage` member (a chunk or a whole response).
std::optional<Usage> ReadUsage(std::string_view json);
// The same without a copy: `json` is followed by padding up to `capacity` bytes (simdjson reads
// up to SIMDJSON_PADDING bytes past the end).
std::optional<Usage> ReadUsage(std::string_view json, size_t capacity);
// The usage object itself (`{"prompt_tokens": ...}`), padded in the same way.
std::optional<Usage> ReadUsageObject(std::string_view json, size_t capacity);

}  // namespace pdgate::router
