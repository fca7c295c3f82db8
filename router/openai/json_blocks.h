#pragma once
// JSON text 64 bytes a step, as simdjson's first stage reads it: bit masks of a block's quotes,
// backslashes and brackets, which bytes a backslash escapes, and which bytes lie inside strings.
// Shared by the usage scanner and the lookup of a top-level member (json_member.h).
#include <bit>
#include <cstdint>

#if defined(__AVX2__) || defined(__PCLMUL__)
#include <immintrin.h>
#endif

namespace pdgate::router::json_blocks {

struct Masks {
  uint64_t quote = 0;
  uint64_t backslash = 0;
  uint64_t structural = 0;  // { } [ ] ,
};

// The masks of 64 readable bytes.
inline Masks Classify(const char* block) {
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
inline uint64_t Escaped(uint64_t backslash, bool& carry) {
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
inline uint64_t PrefixXor(uint64_t x) {
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

inline bool IsBlank(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace pdgate::router::json_blocks
