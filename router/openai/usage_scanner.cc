#include "router/openai/usage_scanner.h"

#include <algorithm>
#include <bit>
#include <cstring>

#if defined(__AVX2__) || defined(__PCLMUL__)
#include <immintrin.h>
#endif

#include "router/openai/openai_request.h"

namespace pdgate::router {
namespace {

constexpr std::string_view kUsage = "usage";
// The captured object is read as the value of this document's one member.
constexpr std::string_view kDocumentStart = "{\"usage\":";

struct Masks {
  uint64_t quote = 0;
  uint64_t backslash = 0;
  uint64_t structural = 0;  // { } [ ] ,
};

// The masks of 64 readable bytes.
Masks Classify(const char* block) {
  Masks m;
#ifdef __AVX2__
  const auto bits = [](__m256i hits) {
    return uint64_t(static_cast<uint32_t>(_mm256_movemask_epi8(hits)));
  };
  for (int half = 0; half < 2; ++half) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32 * half));
    const __m256i folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));  // '[' → '{', ']' → '}'
    const int shift = 32 * half;
    m.quote |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"'))) << shift;
    m.backslash |= bits(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))) << shift;
    m.structural |=
        bits(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(',')),
                             _mm256_or_si256(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8('{')),
                                             _mm256_cmpeq_epi8(folded, _mm256_set1_epi8('}')))))
        << shift;
  }
#else
  for (int i = 0; i < 64; ++i) {
    const uint64_t bit = uint64_t{1} << i;
    switch (block[i]) {
      case '"':
        m.quote |= bit;
        break;
      case '\\':
        m.backslash |= bit;
        break;
      case '{':
      case '}':
      case '[':
      case ']':
      case ',':
        m.structural |= bit;
        break;
      default:
        break;
    }
  }
#endif
  return m;
}

// The bytes that a backslash escapes, in order (an escaped backslash escapes nothing).
// `carry` in: the block's first byte is escaped; out: its byte 63 escapes the next block's first.
uint64_t Escaped(uint64_t backslash, bool& carry) {
  uint64_t escaped = carry ? 1 : 0;
  backslash &= ~escaped;
  carry = false;
  while (backslash != 0) {  // backslashes are rare outside escaped text
    const int i = std::countr_zero(backslash);
    if (i == 63) {
      carry = true;
      break;
    }
    escaped |= uint64_t{1} << (i + 1);
    backslash &= ~(uint64_t{3} << i);
  }
  return escaped;
}

// Bit i: an odd number of bits at or below i are set (between an opening and a closing quote).
uint64_t PrefixXor(uint64_t x) {
#ifdef __PCLMUL__
  // A carry-less multiply by all ones is this prefix XOR in one instruction (as in simdjson).
  const __m128i product =
      _mm_clmulepi64_si128(_mm_set_epi64x(0, int64_t(x)), _mm_set1_epi8(char(0xFF)), 0);
  return uint64_t(_mm_cvtsi128_si64(product));
#else
  for (int shift = 1; shift < 64; shift *= 2) x ^= x << shift;
  return x;
#endif
}

bool IsBlank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Where `"usage"` is written in data[from, size), or npos; data is readable 40 bytes past size.
size_t FindUsageKey(const char* data, size_t size, size_t from) {
  constexpr std::string_view kKey = "\"usage\"";
  if (size < kKey.size()) return std::string_view::npos;
  const size_t last = size - kKey.size();  // the last place it can start
#ifdef __AVX2__
  // The key's first, second and last bytes at 32 places a step; the rest compared where all three
  // match (in JSON text, rarely elsewhere).
  for (size_t at = from; at <= last; at += 32) {
    const auto load = [&](size_t offset) {
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + at + offset));
    };
    const __m256i hits =
        _mm256_and_si256(_mm256_and_si256(_mm256_cmpeq_epi8(load(0), _mm256_set1_epi8('"')),
                                          _mm256_cmpeq_epi8(load(1), _mm256_set1_epi8('u'))),
                         _mm256_cmpeq_epi8(load(6), _mm256_set1_epi8('"')));
    uint32_t mask = static_cast<uint32_t>(_mm256_movemask_epi8(hits));
    while (mask != 0) {
      const size_t i = at + size_t(std::countr_zero(mask));
      if (i > last) return std::string_view::npos;
      if (std::memcmp(data + i + 2, "sage", 4) == 0) return i;
      mask &= mask - 1;
    }
  }
  return std::string_view::npos;
#else
  return std::string_view(data, size).find(kKey, from);
#endif
}

// How the object value that starts at data[value] ends: its end (past its closing brace), and
// whether the object holding the member closes at the last byte of data[0, size), which makes that
// the root (the root's closing brace is the last byte of a document). Blocks of 64 bytes as in
// Block: outside strings, every bracket counts. data is readable 64 bytes past size.
enum class Holder { kRoot, kNested, kUnfinished };
Holder MemberEnd(const char* data, size_t size, size_t value, size_t& end) {
  int depth = 0;
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
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0 && end == 0) end = i + 1;
        if (depth < 0) {  // the holder closes
          size_t next = i + 1;
          while (next < size && IsBlank(data[next])) ++next;
          return next == size && end != 0 ? Holder::kRoot : Holder::kNested;
        }
      }
    }
  }
  return Holder::kUnfinished;  // not JSON
}

// The value of the top-level member "usage" of the JSON object in data[0, size), found where the
// key is written instead of by walking the whole body: [begin, end) of an object value; kNone when
// the key is written nowhere (as for the scanner, a key written with escapes does not count);
// kUnsure when what is there is not plainly a top-level object (the caller then scans the body).
// data is readable 64 bytes past size.
//
// A `"usage"` whose quote no backslash escapes, followed by a colon, is a key: in JSON text a
// quote inside a string is escaped, and one that closes a string cannot be followed by `usage"`.
enum class UsageAt { kNone, kFound, kUnsure };
UsageAt FindTopLevelUsage(const char* data, size_t size, size_t& begin, size_t& end) {
  bool written = false;
  for (size_t key = FindUsageKey(data, size, 0); key != std::string_view::npos;
       key = FindUsageKey(data, size, key + 1)) {
    written = true;
    size_t slashes = 0;
    while (slashes < key && data[key - 1 - slashes] == '\\') ++slashes;
    if (slashes % 2 == 1) continue;  // an escaped quote: text inside a string
    size_t at = key + 7;
    while (at < size && IsBlank(data[at])) ++at;
    if (at == size || data[at] != ':') continue;  // the string "usage" as a value
    ++at;
    while (at < size && IsBlank(data[at])) ++at;
    if (at == size || data[at] != '{') return UsageAt::kUnsure;  // null, or not an object
    switch (MemberEnd(data, size, at, end)) {
      case Holder::kRoot:
        begin = at;
        return UsageAt::kFound;
      case Holder::kNested:
        continue;  // a member of a nested object: the top-level one may come later
      case Holder::kUnfinished:
        return UsageAt::kUnsure;
    }
  }
  return written ? UsageAt::kUnsure : UsageAt::kNone;
}

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
    switch (FindTopLevelUsage(body.data(), body.size(), begin, end)) {
      case UsageAt::kNone:
        started_ = true;
        done_ = true;
        return;
      case UsageAt::kFound:
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
      case UsageAt::kUnsure:
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
        captured_.assign(kDocumentStart);
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
  if (captured_.size() - kDocumentStart.size() > max_usage_bytes_) done_ = true;
}

void UsageScanner::Finish() {
  done_ = true;
  capturing_ = false;
  captured_ += '}';
  captured_.reserve(captured_.size() + kJsonPadding);  // read in place, not copied
  usage_ = ReadUsage(captured_, captured_.capacity());
  captured_ = std::string();
}

}  // namespace pdgate::router
