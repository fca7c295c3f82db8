#include "router/openai/sse_filter.h"

#include <simdjson.h>

#include <cstring>

#include "router/openai/plain_usage.h"

namespace pdgate::router {
namespace {

namespace od = simdjson::ondemand;

// Index just past the blank line that ends the first event in `text` ("\n\n" or "\n\r\n"),
// or npos. An event has one or two line ends: memchr jumps between them.
size_t EventEnd(std::string_view text) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  for (const char* at = begin; at < end;) {
    at = static_cast<const char*>(std::memchr(at, '\n', size_t(end - at)));
    if (at == nullptr || end - at < 2) return std::string_view::npos;
    if (at[1] == '\n') return size_t(at - begin) + 2;
    if (at[1] == '\r' && end - at >= 3 && at[2] == '\n') return size_t(at - begin) + 3;
    ++at;
  }
  return std::string_view::npos;
}

// Whether `needle` occurs in `text`. glibc's memmem, not string_view::find: find calls memchr
// for the needle's first byte, a quote, which a JSON chunk has dozens of.
bool Contains(std::string_view text, std::string_view needle, size_t* at = nullptr) {
  const void* found = ::memmem(text.data(), text.size(), needle.data(), needle.size());
  if (found == nullptr) return false;
  if (at != nullptr) *at = size_t(static_cast<const char*>(found) - text.data());
  return true;
}

// Whether some "usage" member of a chunk has a value other than null. vLLM sends `"usage":null`
// in every chunk of a stream that asked for usage; only the last one is worth a parse.
bool HasUsageValue(std::string_view data) {
  constexpr std::string_view kKey = "\"usage\"";
  size_t at = 0;
  while (Contains(data, kKey, &at)) {
    data.remove_prefix(at + kKey.size());
    auto skip_blanks = [&data](size_t i) {
      while (i < data.size() &&
             (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) {
        ++i;
      }
      return i;
    };
    size_t i = skip_blanks(0);
    if (i == data.size() || data[i] != ':') continue;  // a string's content, not a key
    i = skip_blanks(i + 1);
    if (data.substr(i, 4) != "null") return true;
  }
  return false;
}

std::string_view DataOf(std::string_view event) {
  // vLLM and SGLang send one `data:` line per event.
  if (event.substr(0, 5) != "data:") return {};
  event.remove_prefix(5);
  if (!event.empty() && event.front() == ' ') event.remove_prefix(1);
  while (!event.empty() && (event.back() == '\n' || event.back() == '\r')) event.remove_suffix(1);
  return event;
}

// One parser per thread for the reads of this file: each ends before the next starts.
od::parser& UsageParser() {
  thread_local od::parser parser;
  return parser;
}

std::optional<Usage> UsageOf(od::object usage) {
  Usage result;
  for (auto field : usage) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return std::nullopt;
    int64_t n = 0;
    if (key == "prompt_tokens" && !field.value().get_int64().get(n)) {
      result.prompt_tokens = n;
    } else if (key == "completion_tokens" && !field.value().get_int64().get(n)) {
      result.completion_tokens = n;
    } else if (key == "prompt_tokens_details") {
      od::object details;
      if (!field.value().get_object().get(details)) {
        if (!details["cached_tokens"].get_int64().get(n)) result.cached_tokens = n;
      }
    }
  }
  return result;
}

}  // namespace

std::optional<Usage> ReadUsage(std::string_view json) {
  const simdjson::padded_string copy(json);
  return ReadUsage(copy, copy.size() + simdjson::SIMDJSON_PADDING);
}

std::optional<Usage> ReadUsage(std::string_view json, size_t capacity) {
  if (capacity < json.size() + simdjson::SIMDJSON_PADDING) return ReadUsage(json);
  od::parser& parser = UsageParser();
  od::document doc;
  od::object usage;
  if (parser.iterate(simdjson::padded_string_view(json, capacity)).get(doc) ||
      doc["usage"].get_object().get(usage))
    return std::nullopt;
  return UsageOf(usage);
}

std::optional<Usage> ReadUsageObject(std::string_view json, size_t capacity) {
  if (capacity < json.size() + simdjson::SIMDJSON_PADDING) return std::nullopt;
  if (std::optional<Usage> plain = ReadPlainUsage(json)) return plain;
  od::parser& parser = UsageParser();
  od::document doc;
  od::object usage;
  if (parser.iterate(simdjson::padded_string_view(json, capacity)).get(doc) ||
      doc.get_object().get(usage))
    return std::nullopt;
  return UsageOf(usage);
}

bool SseFilter::Inspect(std::string_view event) {
  std::string_view data = DataOf(event);
  if (data.empty()) return true;  // comments, keep-alives: forwarded untouched
  ++events_;
  if (data == "[DONE]") {
    saw_done_ = true;
    return true;
  }
  if (Contains(data, "\"error\"") && !Contains(data, "\"choices\"")) {
    saw_error_ = true;
    return true;
  }
  // Only chunks that carry usage need a parse; the others pass untouched.
  if (!HasUsageValue(data)) return true;
  std::optional<Usage> usage = ReadUsage(data);
  if (!usage) return true;  // "usage": null
  usage_ = usage;
  if (!drop_usage_chunk_) return true;
  // The usage-only chunk has an empty choices array.
  simdjson::padded_string copy(data);
  od::parser& parser = UsageParser();
  od::document doc;
  od::array choices;
  if (parser.iterate(copy).get(doc) || doc["choices"].get_array().get(choices)) return true;
  size_t count = 0;
  if (choices.count_elements().get(count) || count != 0) return true;
  return false;
}

void SseFilter::Feed(std::string_view in, std::string& out) {
  while (!in.empty()) {
    if (passthrough_) {
      // Inside an oversized event: forward up to its blank line ("\n\n" or "\n\r\n", which may
      // straddle two reads), then resume cutting.
      size_t boundary = std::string_view::npos;
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '\n') {
          if (last_was_newline_) {
            boundary = i + 1;
            break;
          }
          last_was_newline_ = true;
        } else if (in[i] != '\r') {
          last_was_newline_ = false;
        }
      }
      if (boundary == std::string_view::npos) {
        out.append(in);
        return;
      }
      out.append(in.substr(0, boundary));
      in.remove_prefix(boundary);
      passthrough_ = false;
      last_was_newline_ = false;
      continue;
    }
    // Events are cut straight from `in` when nothing is pending (one copy, into `out`); only an
    // unfinished event's bytes are kept.
    const bool from_pending = !pending_.empty();
    if (from_pending) pending_.append(in);
    const std::string_view view = from_pending ? std::string_view(pending_) : in;
    in = {};
    size_t consumed = 0;
    while (true) {
      size_t end = EventEnd(view.substr(consumed));
      if (end == std::string_view::npos) break;
      std::string_view event = view.substr(consumed, end);
      if (Inspect(event)) out.append(event);
      consumed += end;
    }
    if (from_pending) {
      pending_.erase(0, consumed);
    } else {
      pending_.assign(view.substr(consumed));
    }
    if (pending_.size() > max_event_bytes_) {
      const std::string_view tail(pending_);
      last_was_newline_ = tail.ends_with('\n') || tail.ends_with("\n\r");
      out.append(pending_);
      pending_.clear();
      passthrough_ = true;
    }
  }
}

void SseFilter::Finish(std::string& out) {
  if (!pending_.empty()) {
    std::string_view rest(pending_);
    if (Inspect(rest)) out.append(rest);
    pending_.clear();
  }
}

}  // namespace pdgate::router
