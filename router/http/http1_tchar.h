#pragma once
// RFC 9110's tchar (the bytes of a field name or a method), as a predicate and as the two nibble
// tables its vector scans classify bytes with (http1_syntax.cc 16 bytes a step, http1_head_masks.h
// 32): a byte is a tchar exactly when the entries of its low and its high nibble share a bit.
#include <cstdint>
#include <string_view>

namespace pdgate::router::http1 {

constexpr bool IsTchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  constexpr std::string_view kMarks = "!#$%&'*+-.^_`|~";
  return kMarks.find(char(c)) != std::string_view::npos;
}

// Each table twice over, for both 16-byte lanes of a 32-byte shuffle.
struct TcharNibbleTables {
  uint8_t low[32] = {};
  uint8_t high[32] = {};
};
inline constexpr TcharNibbleTables kTcharNibbles = [] {
  TcharNibbleTables t;
  for (int h = 2; h < 8; ++h) t.high[h] = t.high[16 + h] = uint8_t(1u << (h - 2));  // 0x21-0x7e
  for (int c = 0; c < 256; ++c) {
    if (IsTchar(static_cast<unsigned char>(c))) {
      t.low[c & 15] = t.low[16 + (c & 15)] |= t.high[c >> 4];
    }
  }
  return t;
}();

}  // namespace pdgate::router::http1
