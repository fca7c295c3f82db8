#include "router/openai/json_member.h"

#include <algorithm>
#include <cstring>

#include "router/openai/json_blocks.h"

namespace pdgate::router {
namespace {

using json_blocks::Classify;
using json_blocks::Escaped;
using json_blocks::IsBlank;
using json_blocks::Masks;
using json_blocks::PrefixXor;

// Where `key` (quotes included, at least 3 bytes) is written in data[from, size), or npos; data
// is readable 32 bytes past size.
size_t FindKey(const char* data, size_t size, size_t from, std::string_view key) {
  if (size < key.size()) return std::string_view::npos;
  const size_t last = size - key.size();  // the last place it can start
#ifdef __AVX2__
  // The key's first, second and last bytes at 32 places a step; the rest compared where all three
  // match (in JSON text, rarely elsewhere).
  const size_t close = key.size() - 1;
  const __m256i first = _mm256_set1_epi8(key[0]);
  const __m256i second = _mm256_set1_epi8(key[1]);
  const __m256i closing = _mm256_set1_epi8(key[close]);
  for (size_t at = from; at <= last; at += 32) {
    const auto load = [&](size_t offset) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + at + offset));
    };
    const __m256i hits = _mm256_and_si256(
        _mm256_and_si256(_mm256_cmpeq_epi8(load(0), first), _mm256_cmpeq_epi8(load(1), second)),
        _mm256_cmpeq_epi8(load(close), closing));
    auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(hits));
    while (mask != 0) {
      const size_t i = at + size_t(std::countr_zero(mask));
      if (i > last) return std::string_view::npos;
      if (std::memcmp(data + i + 2, key.data() + 2, key.size() - 3) == 0) return i;
      mask &= mask - 1;
    }
  }
  return std::string_view::npos;
#else
  return std::string_view(data, size).find(key, from);
#endif
}

// How the object value that starts at data[value] ends: its end (past its closing brace), and
// whether the object holding the member closes at the last byte of data[0, size). kUnfinished
// when the brackets do not match (or nest deeper than 64). data is readable 64 bytes past size.
enum class Holder { kRoot, kNested, kUnfinished };
Holder MemberEnd(const char* data, size_t size, size_t value, size_t& end) {
  int depth = 0;
  uint64_t arrays = 0;  // bit i: the bracket open at depth i + 1 is an array's (up to 64 deep)
  bool in_string = false;
  bool carry = false;
  end = 0;
  for (size_t block = value; block < size; block += 64) {
    const size_t length = std::min<size_t>(64, size - block);
    const uint64_t valid = length == 64 ? ~uint64_t{0} : (uint64_t{1} << length) - 1;
    const Masks m = Classify(data + block);
    const uint64_t quotes = m.quote & valid & ~Escaped(m.backslash & valid, carry);
    const uint64_t inside = PrefixXor(quotes) ^ (in_string ? ~uint64_t{0} : 0);
    in_string = (inside >> 63) != 0;
    for (uint64_t brackets = m.structural & valid & ~inside; brackets != 0;
         brackets &= brackets - 1) {
      const size_t i = block + size_t(std::countr_zero(brackets));
      const char c = data[i];
      if (c == '{' || c == '[') {
        if (++depth > 64) return Holder::kUnfinished;  // deeper than the bits: left to a parse
        arrays = (arrays << 1) | (c == '[' ? 1 : 0);
      } else if (c == '}' || c == ']') {
        // A bracket that closes what it did not open is no JSON; the holder (depth 0 here) is
        // an object.
        if (depth > 0 ? (arrays & 1) != (c == ']' ? 1u : 0u) : c != '}') return Holder::kUnfinished;
        arrays >>= 1;
        if (--depth == 0 && end == 0) end = i + 1;
        if (depth < 0) {  // the holder closes
          size_t next = i + 1;
          while (next < size && IsBlank(data[next])) ++next;
          return next == size && end != 0 ? Holder::kRoot : Holder::kNested;
        }
      }
    }
  }
  return Holder::kUnfinished;  // not JSON, or too deep to tell
}

}  // namespace

MemberAt FindTopLevelObject(std::string_view document, std::string_view key, size_t& begin,
                            size_t& end) {
  const char* const data = document.data();
  const size_t size = document.size();
  bool written = false;
  for (size_t at_key = FindKey(data, size, 0, key); at_key != std::string_view::npos;
       at_key = FindKey(data, size, at_key + 1, key)) {
    written = true;
    size_t slashes = 0;
    while (slashes < at_key && data[at_key - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) continue;  // an escaped quote: text inside a string
    size_t at = at_key + key.size();
    while (at < size && IsBlank(data[at])) ++at;
    if (at == size || data[at] != ':') continue;  // the same text as a string value
    ++at;
    while (at < size && IsBlank(data[at])) ++at;
    if (at == size || data[at] != '{') return MemberAt::kUnsure;  // null, or not an object
    switch (MemberEnd(data, size, at, end)) {
      case Holder::kRoot:
        begin = at;
        return MemberAt::kFound;
      case Holder::kNested:
        continue;  // a member of a nested object: the root's may come later
      case Holder::kUnfinished:
        return MemberAt::kUnsure;
    }
  }
  return written ? MemberAt::kUnsure : MemberAt::kNone;
}

}  // namespace pdgate::router
