#include "bench/loadgen/response_parse.h"

#include <simdjson.h>

namespace pdgate::loadgen {

void SseParser::Feed(std::string_view bytes, std::vector<std::string>& events) {
  events.clear();
  pending_.append(bytes);
  size_t start = 0;
  while (true) {
    // An event ends at a blank line: "\n\n" or "\r\n\r\n".
    size_t end = pending_.find("\n\n", start);
    size_t end_crlf = pending_.find("\r\n\r\n", start);
    size_t sep = 2;
    if (end_crlf != std::string::npos && (end == std::string::npos || end_crlf < end)) {
      end = end_crlf;
      sep = 4;
    }
    if (end == std::string::npos) break;
    std::string_view event(pending_.data() + start, end - start);
    std::string data;
    bool any = false;
    while (!event.empty()) {
      size_t nl = event.find('\n');
      std::string_view line = event.substr(0, nl);
      event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.substr(0, 5) != "data:") continue;  // comments, event:, id:, retry:
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (any) data.push_back('\n');
      data.append(line);
      any = true;
    }
    if (any) events.push_back(std::move(data));
    start = end + sep;
  }
  pending_.erase(0, start);
}

namespace {

int64_t IntOr(simdjson::simdjson_result<simdjson::dom::element> e, int64_t fallback) {
  int64_t v = 0;
  if (e.get_int64().get(v) == simdjson::SUCCESS) return v;
  return fallback;
}

}  // namespace

ChunkInfo InspectChunk(std::string_view json) {
  ChunkInfo info;
  // One parser per thread: the client is single-threaded per io_context.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return info;
  simdjson::dom::object root;
  if (doc.get_object().get(root) != simdjson::SUCCESS) return info;
  info.parsed = true;
  simdjson::dom::element value;
  if (root["error"].get(value) == simdjson::SUCCESS && !value.is_null()) info.is_error = true;
  simdjson::dom::array choices;
  if (root["choices"].get_array().get(choices) == simdjson::SUCCESS) {
    for (simdjson::dom::element choice : choices) {
      info.has_choices = true;
      std::string_view text;
      if (choice.at_pointer("/delta/content").get_string().get(text) == simdjson::SUCCESS ||
          choice.at_pointer("/message/content").get_string().get(text) == simdjson::SUCCESS ||
          choice.at_pointer("/text").get_string().get(text) == simdjson::SUCCESS) {
        if (!text.empty()) info.has_content = true;
      }
      break;  // the first choice only (n = 1)
    }
  }
  simdjson::dom::object usage;
  if (root["usage"].get_object().get(usage) == simdjson::SUCCESS) {
    Usage u;
    u.prompt_tokens = IntOr(usage["prompt_tokens"], -1);
    u.completion_tokens = IntOr(usage["completion_tokens"], -1);
    u.cached_tokens = IntOr(usage.at_pointer("/prompt_tokens_details/cached_tokens"), 0);
    info.usage = u;
  }
  return info;
}

}  // namespace pdgate::loadgen
