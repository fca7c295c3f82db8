#include "router/openai/openai_request.h"

#include <simdjson.h>

#include <array>
#include <cstring>

#include "base/strings.h"

namespace pdgate::router {
namespace {

namespace od = simdjson::ondemand;

// `name` (of the literal's size) is the literal: a compare of known length, inlined.
template <size_t N>
bool IsKey(std::string_view name, const char (&literal)[N]) {
  return std::memcmp(name.data(), literal, N - 1) == 0;
}

// The keys the router reads or owns, by size first: every member of every request is classified.
Key Classify(std::string_view name) {
  switch (name.size()) {
    case 3:
      if (IsKey(name, "rid")) return Key::kRid;
      break;
    case 4:
      if (IsKey(name, "user")) return Key::kUser;
      break;
    case 5:
      if (IsKey(name, "model")) return Key::kModel;
      break;
    case 6:
      if (IsKey(name, "stream")) return Key::kStream;
      if (IsKey(name, "prompt")) return Key::kPrompt;
      break;
    case 8:
      if (IsKey(name, "messages")) return Key::kMessages;
      break;
    case 10:
      if (IsKey(name, "max_tokens")) return Key::kMaxTokens;
      if (IsKey(name, "min_tokens")) return Key::kMinTokens;
      break;
    case 14:
      if (IsKey(name, "stream_options")) return Key::kStreamOptions;
      if (IsKey(name, "bootstrap_host")) return Key::kBootstrapHost;
      if (IsKey(name, "bootstrap_port")) return Key::kBootstrapPort;
      if (IsKey(name, "bootstrap_room")) return Key::kBootstrapRoom;
      break;
    case 18:
      if (IsKey(name, "kv_transfer_params")) return Key::kKvTransferParams;
      break;
    case 21:
      if (IsKey(name, "max_completion_tokens")) return Key::kMaxCompletionTokens;
      if (IsKey(name, "min_completion_tokens")) return Key::kMinCompletionTokens;
      break;
    default:
      break;
  }
  return Key::kOther;
}

absl::Status Invalid(std::string_view message) {
  return absl::InvalidArgumentError(absl::string_view(message.data(), message.size()));
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

// One simdjson parser per io thread, reused (and capped: a body over the cap is refused before).
od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

// stream_options is small: read it with a second parser rather than losing its span.
absl::Status ReadStreamOptions(std::string_view raw, OpenAIRequest& request) {
  simdjson::padded_string copy(raw);
  thread_local od::parser parser;
  od::document doc;
  if (parser.iterate(copy).get(doc)) return Invalid("stream_options must be an object");
  od::object object;
  if (doc.get_object().get(object)) return Invalid("stream_options must be an object");
  request.include_usage = true;  // vLLM's StreamOptions default when the object is present
  for (auto result : object) {
    od::field field;
    if (std::move(result).get(field)) return Invalid("stream_options must be an object");
    std::string_view name;
    if (field.unescaped_key().get(name)) return Invalid("stream_options: invalid key");
    bool flag = false;
    if (name == "include_usage" || name == "continuous_usage_stats") {
      od::value value = field.value();
      bool null = false;
      if (value.is_null().get(null)) return Invalid("The request body is not valid JSON.");
      if (null) continue;
      if (value.get_bool().get(flag))
        return Invalid(StrCat("stream_options.", name, " must be a boolean"));
      (name == "include_usage" ? request.include_usage : request.continuous_usage_stats) = flag;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OpenAIRequest> ParseOpenAIRequest(std::string_view body, size_t capacity) {
  if (capacity < body.size() + kJsonPadding) return absl::InternalError("body without padding");
  OpenAIRequest request;
  od::document doc;
  if (ThreadParser().iterate(body.data(), body.size(), capacity).get(doc)) {
    return Invalid("The request body is not valid JSON.");
  }
  od::object object;
  if (doc.get_object().get(object)) {
    const size_t first = body.find_first_not_of(" \t\r\n");
    return Invalid(first != std::string_view::npos && body[first] == '{'
                       ? "The request body is not valid JSON."
                       : "The request body must be a JSON object.");
  }
  uint32_t seen = 0;
  bool has_model = false;
  for (auto result : object) {
    od::field field;
    if (std::move(result).get(field)) return Invalid("The request body is not valid JSON.");
    const char* key_raw = field.key().raw();
    std::string_view name;
    if (field.unescaped_key().get(name)) return Invalid("The request body is not valid JSON.");
    const Key key = Classify(name);
    if (key != Key::kOther) {
      const uint32_t bit = 1u << static_cast<unsigned>(key);
      if (seen & bit) return Invalid(StrCat("Duplicate key `", name, "` in the request body."));
      seen |= bit;
    }
    od::value value = field.value();
    // is_null() fails on a malformed atom such as `nul` (its bool conversion would throw).
    bool null = false;
    Member member;
    member.key = key;
    member.begin = uint32_t(key_raw - 1 - body.data());
    std::string_view raw;
    switch (key) {
      case Key::kModel: {
        std::string_view model;
        raw = TrimRight(value.raw_json_token());
        if (value.get_string().get(model)) return Invalid("`model` must be a string.");
        request.model.assign(model);
        has_model = true;
        break;
      }
      case Key::kStream: {
        raw = TrimRight(value.raw_json_token());
        if (value.is_null().get(null)) return Invalid("The request body is not valid JSON.");
        if (null) break;
        if (value.get_bool().get(request.stream)) return Invalid("`stream` must be a boolean.");
        break;
      }
      case Key::kMaxTokens:
      case Key::kMaxCompletionTokens: {
        raw = TrimRight(value.raw_json_token());
        if (value.is_null().get(null)) return Invalid("The request body is not valid JSON.");
        if (null) break;
        int64_t n = 0;
        if (value.get_int64().get(n)) return Invalid(StrCat("`", name, "` must be an integer."));
        if (key == Key::kMaxCompletionTokens || !request.max_tokens) request.max_tokens = n;
        if (key == Key::kMaxCompletionTokens) request.has_max_completion_tokens = true;
        break;
      }
      default: {
        if (simdjson::to_json_string(value).get(raw))
          return Invalid("The request body is not valid JSON.");
        break;
      }
    }
    member.value_begin = uint32_t(raw.data() - body.data());
    member.end = uint32_t(member.value_begin + raw.size());
    if (key == Key::kStreamOptions && raw != "null") {
      request.has_stream_options = true;
      if (absl::Status status = ReadStreamOptions(raw, request); !status.ok()) return status;
    }
    if (key == Key::kMessages || key == Key::kPrompt) request.prompt_json = raw;
    if (key == Key::kUser) request.user = raw;
    request.members.push_back(member);
  }
  // simdjson 3.0.1 has no document::at_end(): after the object, current_location() fails only
  // when nothing but whitespace follows.
  if (!doc.current_location().error()) return Invalid("Unexpected data after the JSON object.");
  if (!has_model) return Invalid("`model` is required.");
  if (request.has_stream_options && !request.stream) {
    return Invalid("Stream options can only be defined when `stream=True`.");
  }
  return request;
}

}  // namespace pdgate::router
