#include "router/openai/usage_scanner.h"

#include <algorithm>
#include <cstring>

#include "router/openai/json_blocks.h"
#include "router/openai/json_member.h"
#include "router/openai/openai_request.h"

namespace pdgate::router {
namespace {

constexpr std::string_view kUsage = "usage";

using json_blocks::Classify;
using json_blocks::Escaped;
using json_blocks::IsBlank;
using json_blocks::Masks;
using json_blocks::PrefixXor;

}  // namespace

void UsageScanner::Feed(std::string_view bytes) {
  if (done_) return;
  const char* const data = bytes.data();
  const size_t size = bytes.size();
  size_t i = 0;
  if (!started_) {
    while (i < size && IsBlank(data[i])) ++i;
    if (i == size) return;
    started_ = true;
    if (data[i] != '{') {
      done_ = true;  // not an object: no usage member
      return;
    }
  }
  // A key or a capture that began in an earlier chunk goes on from this chunk's start.
  key_from_ = i;
  capture_from_ = i;
  for (size_t block = i; block < size; block += 64) {
    if (!Block(data, block, std::min<size_t>(64, size - block))) return;
  }
  if (reading_key_ && key_.size() <= kUsage.size()) {  // kept only as far as it can be "usage"
    key_.append(data + key_from_, std::min(size - key_from_, kUsage.size() + 1 - key_.size()));
  }
  if (capturing_) KeepCaptured(data, size);
}

void UsageScanner::FeedWhole(std::string_view body, size_t capacity) {
  if (!started_ && capacity >= body.size() + kJsonPadding) {
    size_t begin = 0;
    size_t end = 0;
    switch (FindTopLevelObject(body, "\"usage\"", begin, end)) {
      case MemberAt::kNone:
        started_ = true;
        done_ = true;
        return;
      case MemberAt::kFound:
        if (end - begin > max_usage_bytes_) {  // as the scan: too large is none
          started_ = true;
          done_ = true;
          return;
        }
        if (std::optional<Usage> usage =
                ReadUsageObject(body.substr(begin, end - begin), capacity - begin)) {
          started_ = true;
          done_ = true;
          usage_ = usage;
          return;
        }
        break;
      case MemberAt::kUnsure:
        break;
    }
  }
  Feed(body);
}

bool UsageScanner::Block(const char* chunk, size_t block, size_t length) {
  const char* data = chunk + block;
  char padded[64];  // the chunk's last bytes, followed by bytes that are nothing special
  if (length < 64) {
    std::memset(padded, 0, sizeof(padded));
    std::memcpy(padded, data, length);
    data = padded;
  }
  const Masks m = Classify(data);
  const uint64_t escaped = Escaped(m.backslash, escaped_next_);
  if (length < 64) escaped_next_ = ((escaped >> length) & 1) != 0;
  const uint64_t quotes = m.quote & ~escaped;
  // Bit i: byte i is inside a string, its opening quote included and its closing one not.
  const uint64_t inside = PrefixXor(quotes) ^ (in_string_ ? ~uint64_t{0} : 0);
  in_string_ = (inside >> 63) != 0;  // the padding holds no quote: bit 63 is the last byte's
  const uint64_t structurals = m.structural & ~inside;
  const uint64_t opening = quotes & inside;
  const uint64_t closing = quotes & ~inside;
  // Steps through the brackets and commas outside strings in order, and through the quotes of a
  // top-level key where one is expected: the other quotes (nested values, top-level string
  // values) need no step. `from`: the first bit not yet looked at.
  int from = 0;
  while (true) {
    const uint64_t after = from >= 64 ? 0 : ~uint64_t{0} << from;
    const uint64_t next = structurals & after & (~(structurals & after) + 1);  // the lowest
    if (reading_key_) {  // its closing quote comes before any bracket: brackets in it are text
      const uint64_t close = closing & after;
      if (close == 0) return true;  // the key goes on in the next block
      const int i = std::countr_zero(close);
      reading_key_ = false;
      const std::string_view here(chunk + key_from_, block + size_t(i) - key_from_);
      usage_key_ = key_.size() + here.size() == kUsage.size() && kUsage.starts_with(key_) &&
                   kUsage.substr(key_.size()) == here;
      from = i + 1;
      continue;
    }
    if (depth_ == 1 && key_expected_) {  // a key opens here if its quote comes first
      const uint64_t open = opening & after & (next == 0 ? ~uint64_t{0} : next - 1);
      if (open != 0) {
        const int i = std::countr_zero(open);
        key_expected_ = false;
        reading_key_ = true;
        key_from_ = block + size_t(i) + 1;
        key_.clear();
        from = i + 1;
        continue;
      }
    }
    if (next == 0) return true;
    const int i = std::countr_zero(next);
    from = i + 1;
    const char c = data[i];
    if (c == ',' && depth_ != 1) continue;  // a nested value's comma: nothing to do
    Event(chunk, block + size_t(i), c);
    if (done_) return false;
  }
}

void UsageScanner::Event(const char* chunk, size_t at, char c) {
  switch (c) {
    case '{':
      if (depth_ == 1 && usage_key_) {
        capturing_ = true;
        captured_.clear();
        capture_from_ = at;
      }
      if (++depth_ == 1) key_expected_ = true;
      return;
    case '[':
      ++depth_;
      return;
    case '}':
    case ']':
      --depth_;
      if (capturing_ && depth_ == 1) {
        KeepCaptured(chunk, at + 1);
        if (!done_) Finish();
        return;
      }
      if (depth_ <= 0) done_ = true;  // the end of the document
      return;
    default:  // ','
      if (depth_ == 1) {
        key_expected_ = true;
        usage_key_ = false;
      }
      return;
  }
}

void UsageScanner::KeepCaptured(const char* chunk, size_t end) {
  captured_.append(chunk + capture_from_, end - capture_from_);
  capture_from_ = end;
  if (captured_.size() > max_usage_bytes_) done_ = true;
}

void UsageScanner::Finish() {
  done_ = true;
  capturing_ = false;
  captured_.reserve(captured_.size() + kJsonPadding);  // read in place, not copied
  usage_ = ReadUsageObject(captured_, captured_.capacity());
  captured_ = std::string();
}

}  // namespace pdgate::router
