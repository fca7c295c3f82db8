#include "router/http/http1_syntax.h"

#include <array>
#include <bit>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <limits>

#include "router/http/http1_tchar.h"

#if defined(__SSSE3__)
#include <tmmintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pdgate::router::http1 {
namespace {

namespace http = boost::beast::http;

constexpr std::array<bool, 256> kTchar = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) table[size_t(c)] = IsTchar(static_cast<unsigned char>(c));
  return table;
}();

// What ends a field value or a reason phrase: a control character other than HTAB.
bool EndsText(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}
int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

const char* FindTextEnd(const char* p, const char* last) {
#if defined(__SSE2__)
  // Bytes ≤ 0x1F other than HTAB, and DEL: unsigned compares done as signed ones on bytes
  // shifted by 0x80.
  const __m128i bias = _mm_set1_epi8(char(0x80));
  const __m128i below_space = _mm_set1_epi8(char(0x20 ^ 0x80));
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (last - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i control = _mm_cmplt_epi8(_mm_xor_si128(v, bias), below_space);
    const __m128i hits =
        _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(v, tab), control), _mm_cmpeq_epi8(v, del));
    if (const int mask = _mm_movemask_epi8(hits); mask != 0)
      return p + std::countr_zero(unsigned(mask));
    p += 16;
  }
#endif
  while (p < last && !EndsText(*p)) ++p;
  return p;
}

}  // namespace

bool Tchar(char c) { return kTchar[static_cast<unsigned char>(c)]; }

const char* FindNonTchar(const char* p, const char* last) {
#if defined(__SSSE3__)
  const __m128i low_table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTcharNibbles.low));
  const __m128i high_table = _mm_loadu_si128(reinterpret_cast<const __m128i*>(kTcharNibbles.high));
  const __m128i nibble = _mm_set1_epi8(0x0f);
  while (last - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_shuffle_epi8(low_table, _mm_and_si128(v, nibble));
    const __m128i high = _mm_shuffle_epi8(high_table, _mm_and_si128(_mm_srli_epi16(v, 4), nibble));
    const __m128i other = _mm_cmpeq_epi8(_mm_and_si128(low, high), _mm_setzero_si128());
    if (const int mask = _mm_movemask_epi8(other); mask != 0)
      return p + std::countr_zero(unsigned(mask));
    p += 16;
  }
#endif
  while (p < last && Tchar(*p)) ++p;
  return p;
}

const char* TextToEol(const char* p, const char* last, const char*& text_end, error_code& ec) {
  p = FindTextEnd(p, last);
  if (p >= last) {
    ec = http::error::need_more;
    return last;
  }
  if (*p != '\r') return nullptr;
  if (p + 1 >= last) {
    ec = http::error::need_more;
    return last;
  }
  if (p[1] != '\n') {
    ec = http::error::bad_line_ending;
    return last;
  }
  text_end = p;
  return p + 2;
}

const char* TrimBack(const char* end, const char* first) {
  while (end != first && Blank(end[-1])) --end;
  return end;
}

// The end of the first CRLFCRLF in [p, last), or nullptr.
const char* FindHeadEnd(const char* p, const char* last) {
  while (last - p >= 4) {
    const void* lf = std::memchr(p + 3, '\n', size_t(last - p - 3));
    if (lf == nullptr) return nullptr;
    const char* q = static_cast<const char*>(lf) - 3;  // where a CRLFCRLF ending here starts
    if (q[0] == '\r' && q[1] == '\n' && q[2] == '\r') return q + 4;
    p = q + 1;
  }
  return nullptr;
}

// The end of the first line: after its CRLF; nullptr when none is complete yet. A CR that is
// followed by anything but LF is bad_line_ending.
const char* FindEol(const char* p, const char* last, error_code& ec) {
  ec = {};
  const void* cr = std::memchr(p, '\r', size_t(last - p));
  if (cr == nullptr) return nullptr;
  const char* at = static_cast<const char*>(cr);
  if (at + 1 == last) return nullptr;
  if (at[1] != '\n') {
    ec = http::error::bad_line_ending;
    return nullptr;
  }
  return at + 2;
}

bool ParseDecimal(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  uint64_t n = 0;
  for (const char c : s) {
    if (!Digit(c) || n > std::numeric_limits<uint64_t>::max() / 10) return false;
    n *= 10;
    const auto d = uint64_t(c - '0');
    if (std::numeric_limits<uint64_t>::max() - n < d) return false;
    n += d;
  }
  v = n;
  return true;
}

bool ParseHex(const char*& it, uint64_t& v) {
  int d = HexDigit(*it);
  if (d < 0) return false;
  uint64_t n = 0;
  do {
    if (n > std::numeric_limits<uint64_t>::max() / 16) return false;
    n *= 16;
    if (std::numeric_limits<uint64_t>::max() - n < uint64_t(d)) return false;
    n += uint64_t(d);
    d = HexDigit(*++it);
  } while (d >= 0);
  v = n;
  return true;
}

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), value a token or a
// quoted-string. Stops at the first byte that cannot continue it (the CR of the line, when
// well formed); need_more when the buffer ends inside it.
void ParseChunkExtensions(const char*& it, const char* last, error_code& ec) {
  const auto more = [&] { ec = http::error::need_more; };
  const auto bad = [&] { ec = http::error::bad_chunk_extension; };
  // Steps past blanks; false when the buffer ends.
  const auto blanks = [&] {
    while (true) {
      if (it == last) return false;
      if (!Blank(*it)) return true;
      ++it;
    }
  };
  // Steps past the rest of a token whose first byte is at `it`; false when the buffer ends.
  const auto token_rest = [&] {
    do {
      if (++it == last) return false;
    } while (Tchar(*it));
    return true;
  };
  while (true) {
    if (it == last) return more();
    if (!Blank(*it) && *it != ';') return;
    if (!blanks()) return more();
    if (*it != ';') return bad();
    bool another_name = true;  // after ";"
    while (another_name) {
      another_name = false;
      ++it;
      if (!blanks()) return more();
      if (!Tchar(*it)) return bad();
      if (!token_rest()) return more();
      bool spaced = false;
      if (Blank(*it)) {
        if (!blanks()) return more();
        spaced = true;
      }
      if (*it == ';') {
        another_name = true;
        continue;
      }
      if (*it != '=') {
        if (spaced) bad();
        return;
      }
      ++it;
      if (!blanks()) return more();
      if (*it != '"') {
        if (!Tchar(*it)) return bad();
        if (!token_rest()) return more();
      } else {
        while (true) {
          if (++it == last) return more();
          if (*it == '"') break;
          if (*it == '\\' && ++it == last) return more();
        }
        ++it;
      }
    }
  }
}

}  // namespace pdgate::router::http1
