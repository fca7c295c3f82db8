#include "router/openai/prompt_tokens.h"

#include <simdjson.h>

#include "config/strings.h"

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

}  // namespace

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
  std::string out = StrCat("{\"model\":", model_json, chat ? ",\"messages\":" : ",\"prompt\":",
                           request.prompt_json);
  bool generation_prompt = false;
  for (const Member& member : request.members) {
    if (member.key != Key::kOther) continue;
    // The raw key between its quotes: a key written with escapes is not copied (nor needed).
    const std::string_view text = body.substr(member.begin, member.end - member.begin);
    const size_t close = text.find('"', 1);
    if (close == std::string_view::npos) continue;
    const std::string_view key = text.substr(1, close - 1);
    const bool copied = key == "add_special_tokens" ||
                        (chat && (key == "tools" || key == "chat_template" ||
                                  key == "chat_template_kwargs" ||
                                  key == "continue_final_message" ||
                                  key == "add_generation_prompt"));
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
