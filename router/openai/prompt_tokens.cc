#include "router/openai/prompt_tokens.h"

#include <simdjson.h>
#include <xxhash.h>

#include "base/strings.h"

namespace pdgate::router {
namespace {

// Appends the elements of a JSON array of uint32 to `out`; false on anything else.
bool ReadIds(simdjson::dom::element value, std::vector<uint32_t>& out, size_t max_ids) {
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return false;
  if (array.size() > max_ids) return false;
  out.reserve(array.size());
  for (simdjson::dom::element element : array) {
    uint64_t id = 0;
    if (element.get_uint64().get(id) != simdjson::SUCCESS || id > UINT32_MAX) return false;
    out.push_back(uint32_t(id));
  }
  return true;
}

// Prompts beyond this many ids are not scored precisely (max_model_len of today's largest
// models is ~1M tokens; the index looks at 128 blocks anyway).
constexpr size_t kMaxPromptIds = size_t{4} << 20;

// Where the JSON array `array` (already validated) is cut to drop its last element: the end of
// the element before it, and the closing bracket. nullopt with fewer than two elements.
struct LastCut {
  size_t prefix_end = 0;
  size_t close = 0;
};

std::optional<LastCut> CutLastElement(std::string_view array) {
  if (array.empty() || array.front() != '[') return std::nullopt;
  int depth = 0;
  bool quoted = false;
  size_t elements = 0;
  size_t element_end = 0;   // of the element being read
  size_t previous_end = 0;  // of the one before it
  bool in_element = false;
  for (size_t i = 0; i < array.size(); ++i) {
    const char c = array[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
        element_end = i + 1;
      }
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (depth == 1 && c == ',') {
      in_element = false;
      continue;
    }
    if (depth == 1 && c == ']') {
      if (elements < 2) return std::nullopt;
      return LastCut{previous_end, i};
    }
    if (depth == 1 && !in_element) {
      in_element = true;
      ++elements;
      previous_end = element_end;
    }
    if (c == '"') {
      quoted = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
    element_end = i + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> PromptPrefixKey(std::string_view body, std::string_view messages_json) {
  const std::optional<LastCut> cut = CutLastElement(messages_json);
  if (!cut) return std::nullopt;
  constexpr std::string_view kMessages = ",\"messages\":";
  // (A model name cannot hold this: its quotes are escaped in `body`.)
  const size_t at = body.find(kMessages);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t start = at + kMessages.size();
  if (body.substr(start, messages_json.size()) != messages_json) return std::nullopt;
  // The body up to the message before the last, then from the array's end on (spacing around
  // the last message does not count); salted apart from whole-body keys.
  const uint64_t head = XXH3_64bits_withSeed(body.data(), start + cut->prefix_end, 0x70726566ULL);
  const std::string_view tail = body.substr(start + cut->close);
  return XXH3_64bits_withSeed(tail.data(), tail.size(), head);
}

std::optional<std::vector<uint32_t>> PromptTokenIds(std::string_view prompt_json) {
  if (prompt_json.empty() || prompt_json.front() != '[') return std::nullopt;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(prompt_json.data(), prompt_json.size()).get(doc) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::vector<uint32_t> ids;
  if (!ReadIds(doc, ids, kMaxPromptIds) || ids.empty()) return std::nullopt;
  return ids;
}

std::string TokenizeBody(const OpenAIRequest& request, std::string_view body,
                         std::string_view model_json, bool chat) {
  std::string out = StrCat("{\"model\":", model_json,
                           chat ? ",\"messages\":" : ",\"prompt\":", request.prompt_json);
  bool generation_prompt = false;
  for (const Member& member : request.members) {
    if (member.key != Key::kOther) continue;
    // The raw key between its quotes: a key written with escapes is not copied (nor needed).
    const std::string_view text = body.substr(member.begin, member.end - member.begin);
    const size_t close = text.find('"', 1);
    if (close == std::string_view::npos) continue;
    const std::string_view key = text.substr(1, close - 1);
    const bool copied =
        key == "add_special_tokens" ||
        (chat && (key == "tools" || key == "chat_template" || key == "chat_template_kwargs" ||
                  key == "continue_final_message" || key == "add_generation_prompt"));
    if (!copied) continue;
    generation_prompt |= key == "add_generation_prompt";
    StrAppend(out, ",", text);
  }
  if (chat && !generation_prompt) out += ",\"add_generation_prompt\":true";
  out += "}";
  return out;
}

absl::StatusOr<std::vector<uint32_t>> ParseTokenizeAnswer(std::string_view body,
                                                          size_t max_tokens) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the /tokenize answer is not JSON");
  }
  simdjson::dom::element tokens;
  if (doc.at_key("tokens").get(tokens) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("the /tokenize answer has no tokens");
  }
  std::vector<uint32_t> ids;
  if (!ReadIds(tokens, ids, max_tokens)) {
    return absl::InvalidArgumentError("the /tokenize answer's tokens are not token ids");
  }
  return ids;
}

}  // namespace pdgate::router
