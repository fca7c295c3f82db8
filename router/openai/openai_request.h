#pragma once
// One forward pass over an OpenAI request body (simdjson On-Demand) that records what routing
// needs and where every top-level member lies, so legs are built by splicing the client's bytes.
//
// Security: keys are compared unescaped ("mod\u0065l" is `model`, as Python's json reads it), and a
// duplicated key that pdgate reads or edits is rejected: otherwise a client could route as one
// model and run as another, since engines keep the last duplicate.
#include <absl/container/inlined_vector.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::router {

// The top-level keys pdgate interprets or edits.
enum class Key : uint8_t {
  kOther,
  kModel,
  kStream,
  kStreamOptions,
  kMaxTokens,
  kMaxCompletionTokens,
  kMinTokens,
  kMinCompletionTokens,
  kMessages,
  kPrompt,
  kUser,
  // Router-owned engine fields: a client's values never reach an engine.
  kKvTransferParams,
  kBootstrapHost,
  kBootstrapPort,
  kBootstrapRoom,
  kRid,
};

// One top-level member: bytes [begin, end) of the body hold `"key": value` exactly as sent.
struct Member {
  Key key = Key::kOther;
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t value_begin = 0;  // the value alone: [value_begin, end)
};

struct OpenAIRequest {
  std::string model;  // unescaped
  bool stream = false;
  bool has_stream_options = false;
  // What the engine would do: with a stream_options object, include_usage defaults to true (vLLM).
  bool include_usage = false;
  bool continuous_usage_stats = false;
  bool has_max_completion_tokens = false;
  std::optional<int64_t> max_tokens;  // max_completion_tokens when both are given
  std::string_view prompt_json;       // raw `messages` or `prompt` value, for scheduling
  std::string_view user;              // raw JSON string token of `user`, if any
  // In body order. Inline: an SDK's chat request has 4 to 10 members, and a vector's allocation
  // per request was needed only for the unusual one with more than 16.
  absl::InlinedVector<Member, 16> members;
};

// Parses `body`, which must be followed by at least 64 readable bytes (simdjson's padding):
// `capacity` is the size of the allocation that starts at body.data().
// InvalidArgument (→ 400) for invalid JSON, a non-object, trailing bytes, a duplicated routing
// key, a field of the wrong type, stream_options without stream, or a missing model.
absl::StatusOr<OpenAIRequest> ParseOpenAIRequest(std::string_view body, size_t capacity);

// Bytes simdjson needs readable past the end of the input.
inline constexpr size_t kJsonPadding = 64;

}  // namespace pdgate::router
