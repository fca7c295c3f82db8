#include "router/openai/usage_scanner.h"

#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstdint>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace pdgate::router {
namespace {

// The bytes that change the scanner's state: quotes and backslashes in strings, brackets and
// commas outside. Everything else (text, digits, true/false/null, ':', blanks) is skipped.
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> table{};
  for (char c : std::string_view("\"\\{}[],")) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

bool IsBlank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Finds the special bytes of one chunk in order. A response is mostly runs of plain bytes
// (generated text, numbers, short keys): with AVX2, 32 bytes are classified per step and the
// specials of a block are then taken from its bit mask, so a special costs a few instructions.
class SpecialFinder {
 public:
  SpecialFinder(const char* data, size_t size) : data_(data), size_(size) {}

  // The first special byte at or after `i`, or the chunk's size.
  size_t Next(size_t i) {
#ifdef __AVX2__
    while (true) {
      if (i >= base_ && i < base_ + 32) {
        const uint32_t rest = mask_ & (~uint32_t{0} << (i - base_));
        if (rest != 0) return base_ + size_t(std::countr_zero(rest));
        i = base_ + 32;
      }
      if (i + 32 > size_) break;
      base_ = i;
      mask_ = Classify(data_ + i);
    }
#endif
    while (i < size_ && !kSpecial[static_cast<unsigned char>(data_[i])]) ++i;
    return i;
  }

 private:
#ifdef __AVX2__
  // Not inlined: its constants would be set up again on every Next.
  [[gnu::noinline]] static uint32_t Classify(const char* block) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block));
    const __m256i folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));  // '[' → '{', ']' → '}'
    const __m256i hits = _mm256_or_si256(
        _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                        _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))),
        _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(',')),
                        _mm256_or_si256(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('{')),
                                        _mm256_cmpeq_epi8(folded, _mm256_set1_epi8('}')))));
    return static_cast<uint32_t>(_mm256_movemask_epi8(hits));
  }
  size_t base_ = SIZE_MAX - 32;  // no block classified yet
  uint32_t mask_ = 0;
#endif
  const char* data_;
  size_t size_;
};

}  // namespace

void UsageScanner::Feed(std::string_view bytes) {
  constexpr std::string_view kUsage = "usage";
  const char* const data = bytes.data();
  const size_t size = bytes.size();
  size_t i = 0;
  // The usage object's bytes in this chunk start here; they are appended in one piece when the
  // chunk or the object ends.
  size_t capture_from = 0;
  auto keep_captured = [&](size_t end) {
    captured_.append(data + capture_from, end - capture_from);
    capture_from = end;
    if (captured_.size() > max_usage_bytes_) done_ = true;
  };
  // A top-level key is kept only as far as it can still be "usage" (one byte more).
  auto key_room = [&] { return reading_key_ && key_.size() <= kUsage.size(); };
  if (!started_ && !done_) {
    while (i < size && IsBlank(data[i])) ++i;
    if (i == size) return;
    started_ = true;
    if (data[i] != '{') {
      done_ = true;  // not an object: no usage member
      return;
    }
  }
  SpecialFinder specials(data, size);
  while (!done_) {
    if (escape_) {  // the byte after a backslash, whatever it is
      if (i == size) break;
      if (key_room()) key_.push_back(data[i]);
      escape_ = false;
      ++i;
    }
    const size_t next = specials.Next(i);
    if (key_room()) key_.append(data + i, std::min(next - i, kUsage.size() + 1 - key_.size()));
    i = next;
    if (i == size) break;
    const char c = data[i++];
    if (in_string_) {
      if (c == '"') {
        in_string_ = false;
        if (reading_key_) {
          reading_key_ = false;
          usage_key_ = key_ == kUsage;
        }
        continue;
      }
      if (c == '\\') escape_ = true;
      if (key_room()) key_.push_back(c);
      continue;
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
      default:  // ','
        if (depth_ == 1) {
          key_expected_ = true;
          usage_key_ = false;
        }
        break;
    }
  }
  if (capturing_ && !done_) keep_captured(size);
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
