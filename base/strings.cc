#include "base/strings.h"

#include <array>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

namespace pdgate {

void strings_internal::Append(std::string& out, double value) {
  char buffer[32];
  int n = std::snprintf(buffer, sizeof(buffer), "%g", value);
  out.append(buffer, size_t(n));
}

std::string StrJoin(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out.append(separator);
    out.append(parts[i]);
  }
  return out;
}

namespace {

constexpr std::array<bool, 256> kNeedsEscape = [] {
  std::array<bool, 256> table{};
  for (int byte = 0; byte < 0x20; ++byte) table[size_t(byte)] = true;
  table['"'] = true;
  table['\\'] = true;
  return table;
}();

#ifdef __AVX2__
// One bit per byte of the 32 at `p` that JSON must escape.
uint32_t EscapeMask(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
  const __m256i hits =
      _mm256_or_si256(control, _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')),
                                               _mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\'))));
  return static_cast<uint32_t>(_mm256_movemask_epi8(hits));
}
#endif

// The first byte at or after `i` that JSON must escape (a control byte, '"' or '\\'), or `size`.
// Values are mostly plain (ids, names, model text): 32 bytes are looked at per step with AVX2.
size_t NextToEscape(const char* data, size_t i, size_t size) {
#ifdef __AVX2__
  for (; i + 32 <= size; i += 32) {
    if (const uint32_t mask = EscapeMask(data + i); mask != 0)
      return i + size_t(std::countr_zero(mask));
  }
  if (i + 16 <= size) {  // values are mostly short: one 16-byte step before the byte loop
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
    const __m128i hits =
        _mm_or_si128(control, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                           _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    const auto mask = static_cast<uint32_t>(_mm_movemask_epi8(hits));
    if (mask != 0) return i + size_t(std::countr_zero(mask));
    i += 16;
  }
#endif
  for (; i < size; ++i) {
    if (kNeedsEscape[static_cast<unsigned char>(data[i])]) return i;
  }
  return size;
}

// The escape sequence of a byte NextToEscape stopped at, written at `out` (room for 6 bytes).
size_t WriteEscape(unsigned char byte, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out[0] = '\\';
  switch (byte) {
    case '"':
    case '\\':
      out[1] = char(byte);
      return 2;
    case '\n':
      out[1] = 'n';
      return 2;
    case '\r':
      out[1] = 'r';
      return 2;
    case '\t':
      out[1] = 't';
      return 2;
    default:
      std::memcpy(out + 1, "u00", 3);
      out[4] = kHex[(byte >> 4) & 0xf];
      out[5] = kHex[byte & 0xf];
      return 6;
  }
}

}  // namespace

// Both copy the runs of bytes that need no escape at once: most values have no byte to escape.
void AppendJsonString(std::string& out, std::string_view value) {
  out.push_back('"');
  size_t run = 0;
  while (true) {
    const size_t i = NextToEscape(value.data(), run, value.size());
    out.append(value.data() + run, i - run);
    if (i == value.size()) break;
    run = i + 1;
    char escape[6];
    out.append(escape, WriteEscape(static_cast<unsigned char>(value[i]), escape));
  }
  out.push_back('"');
}

char* WriteJsonString(char* out, std::string_view value) {
  *out++ = '"';
  out = WriteJsonText(out, value);
  *out++ = '"';
  return out;
}

size_t FindJsonEscapeInRoom(const char* data, size_t size) {
#ifdef __AVX2__
  for (size_t i = 0; i < size; i += 32) {
    uint32_t mask = EscapeMask(data + i);
    if (size - i < 32) mask &= (uint32_t{1} << (size - i)) - 1;  // the bytes after the value
    if (mask != 0) return i + size_t(std::countr_zero(mask));
  }
  return size;
#else
  return NextToEscape(data, 0, size);
#endif
}

char* WriteJsonText(char* out, std::string_view value) {
  size_t run = 0;
  while (true) {
    const size_t i = NextToEscape(value.data(), run, value.size());
    std::memcpy(out, value.data() + run, i - run);
    out += i - run;
    if (i == value.size()) break;
    run = i + 1;
    out += WriteEscape(static_cast<unsigned char>(value[i]), out);
  }
  return out;
}

}  // namespace pdgate
