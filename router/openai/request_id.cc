#include "router/openai/request_id.h"

#include <array>
#include <cstring>

namespace pdgate::router {
namespace {

// Each byte's two hex digits: one lookup per byte instead of a step per digit.
constexpr std::array<char, 512> kHexPairs = [] {
  constexpr char kHex[] = "0123456789abcdef";
  std::array<char, 512> pairs{};
  for (size_t byte = 0; byte < 256; ++byte) {
    pairs[2 * byte] = kHex[byte >> 4];
    pairs[2 * byte + 1] = kHex[byte & 0xf];
  }
  return pairs;
}();

// The 16 hex digits of `value`, most significant first.
void WriteHex(uint64_t value, char* out) {
  for (int i = 0; i < 8; ++i) {
    const size_t byte = (value >> (56 - 8 * i)) & 0xff;
    std::memcpy(out + 2 * i, &kHexPairs[2 * byte], 2);
  }
}

}  // namespace

std::string NewRequestId(std::mt19937_64& rng) {
  uint64_t high = rng(), low = rng();
  high = (high & ~0xf000ull) | 0x4000ull;                // version 4
  low = (low & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10
  char digits[32];
  WriteHex(high, digits);
  WriteHex(low, digits + 16);
  std::string out(36, '-');  // 8-4-4-4-12 hex digits
  std::memcpy(out.data(), digits, 8);
  std::memcpy(out.data() + 9, digits + 8, 4);
  std::memcpy(out.data() + 14, digits + 12, 4);
  std::memcpy(out.data() + 19, digits + 16, 4);
  std::memcpy(out.data() + 24, digits + 20, 12);
  return out;
}

}  // namespace pdgate::router
