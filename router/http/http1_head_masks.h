#pragma once
// Where a head's field names and values end, found 32 bytes a step with AVX2 and inlined into
// the field loop: the general scans (http1_syntax.h) cost a call, their constants and a 16-byte
// step (then a byte loop near the buffer's end) per piece of every field. Only http1_head.cc
// includes this.
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "router/http/http1_tchar.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace pdgate::router::http1 {

#ifdef __AVX2__

namespace masks_detail {

inline __m256i Load(const char* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline uint32_t NonTchar(__m256i v) {
  const __m256i low_table = Load(reinterpret_cast<const char*>(kTcharNibbles.low));
  const __m256i high_table = Load(reinterpret_cast<const char*>(kTcharNibbles.high));
  const __m256i nibble = _mm256_set1_epi8(0x0f);
  const __m256i low = _mm256_shuffle_epi8(low_table, _mm256_and_si256(v, nibble));
  const __m256i high =
      _mm256_shuffle_epi8(high_table, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
  const __m256i other = _mm256_cmpeq_epi8(_mm256_and_si256(low, high), _mm256_setzero_si256());
  return uint32_t(_mm256_movemask_epi8(other));
}

inline uint32_t EndsText(__m256i v) {
  const __m256i control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
  const __m256i tab = _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t'));
  const __m256i del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
  return uint32_t(_mm256_movemask_epi8(_mm256_or_si256(_mm256_andnot_si256(tab, control), del)));
}

inline uint32_t EndsTarget(__m256i v) {
  const __m256i control_or_space = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x20)), v);
  const __m256i del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
  return uint32_t(_mm256_movemask_epi8(_mm256_or_si256(control_or_space, del)));
}

// The first byte at or after `p` whose bit `Mask` sets, 32 bytes a step; nullptr when fewer than
// 32 bytes are left before one is found.
template <uint32_t (*Mask)(__m256i)>
inline const char* Find32(const char* p, const char* last) {
  for (; last - p >= 32; p += 32) {
    if (const uint32_t mask = Mask(Load(p)); mask != 0) return p + std::countr_zero(mask);
  }
  return nullptr;
}

}  // namespace masks_detail

// The first byte at or after `p` that is no tchar; nullptr when fewer than 32 bytes are left
// before it is found (the caller reads that line byte by byte).
inline const char* FindNameEnd32(const char* p, const char* last) {
  return masks_detail::Find32<masks_detail::NonTchar>(p, last);
}
// The same for the first control byte other than HTAB, or DEL: where a field value ends.
inline const char* FindTextEnd32(const char* p, const char* last) {
  return masks_detail::Find32<masks_detail::EndsText>(p, last);
}
// The same for the first byte that cannot be in a request target: a control byte, space or DEL.
inline const char* FindTargetEnd32(const char* p, const char* last) {
  return masks_detail::Find32<masks_detail::EndsTarget>(p, last);
}

#endif  // __AVX2__ (without it, ParseField reads every line)

}  // namespace pdgate::router::http1
