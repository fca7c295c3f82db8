#include "router/openai/usage_scanner.h"

#include <algorithm>
#include <array>

namespace pdgate::router {
namespace {

// The bytes that change the scanner's state outside strings. Everything else (digits, the letters
// of true/false/null, ':', blanks) is skipped without a branch per kind.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> table{};
  for (char c : std::string_view("\"{}[],")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

}  // namespace

void UsageScanner::Feed(std::string_view bytes) {
  constexpr std::string_view kUsage = "usage";
  size_t i = 0;
  // The usage object's bytes in this chunk start here; they are appended in one piece when the
  // chunk or the object ends.
  size_t capture_from = 0;
  auto keep_captured = [&](size_t end) {
    captured_.append(bytes.data() + capture_from, end - capture_from);
    capture_from = end;
    if (captured_.size() > max_usage_bytes_) done_ = true;
  };
  while (i < bytes.size() && !done_) {
    // Fast paths: the bulk of a response is string content (the generated text) and values
    // nobody looks at. A plain loop: string_view::find_first_of calls memchr once per byte.
    if (started_) {
      if (!in_string_) {
        while (i < bytes.size() && !kStructural[static_cast<unsigned char>(bytes[i])]) ++i;
      } else if (!escape_) {
        size_t end = i;
        while (end < bytes.size() && bytes[end] != '"' && bytes[end] != '\\') ++end;
        // A top-level key is kept only as far as it can still be "usage" (one byte more).
        if (reading_key_ && key_.size() <= kUsage.size()) {
          key_.append(bytes.data() + i, std::min(end - i, kUsage.size() + 1 - key_.size()));
        }
        i = end;
      }
      if (i == bytes.size()) break;
    }
    const char c = bytes[i++];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
        if (reading_key_) {
          reading_key_ = false;
          usage_key_ = key_ == kUsage;
        }
        continue;
      }
      if (reading_key_ && key_.size() <= kUsage.size()) key_.push_back(c);
      continue;
    }
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (!started_) {
      started_ = true;
      if (c != '{') {
        done_ = true;  // not an object: no usage member
        return;
      }
    }
    switch (c) {
      case '"':
        in_string_ = true;
        if (depth_ == 1 && key_expected_) {
          key_expected_ = false;
          reading_key_ = true;
          key_.clear();
        }
        break;
      case '{':
        if (depth_ == 1 && usage_key_) {
          capturing_ = true;
          captured_.clear();
          capture_from = i - 1;
        }
        if (++depth_ == 1) key_expected_ = true;
        break;
      case '[':
        ++depth_;
        break;
      case '}':
      case ']':
        --depth_;
        if (capturing_ && depth_ == 1) {
          keep_captured(i);
          if (!done_) Finish();
          return;
        }
        if (depth_ <= 0) done_ = true;  // the end of the document
        break;
      case ',':
        if (depth_ == 1) {
          key_expected_ = true;
          usage_key_ = false;
        }
        break;
      default:  // ':', numbers, true, false, null
        break;
    }
  }
  if (capturing_ && !done_) keep_captured(bytes.size());
}

void UsageScanner::Finish() {
  done_ = true;
  capturing_ = false;
  std::string document = "{\"usage\":";
  document += captured_;
  document += "}";
  usage_ = ReadUsage(document);
  captured_.clear();
  captured_.shrink_to_fit();
}

}  // namespace pdgate::router
