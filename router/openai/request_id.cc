#include "router/openai/request_id.h"

namespace pdgate::router {

std::string NewRequestId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t high = rng(), low = rng();
  high = (high & ~0xf000ull) | 0x4000ull;                // version 4
  low = (low & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10
  std::string out(36, '-');                              // 8-4-4-4-12 hex digits
  char* next = out.data();
  auto put = [&next](uint64_t value, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i, value >>= 4) next[i] = kHex[value & 0xf];
    next += nibbles + 1;  // and past the dash
  };
  put(high >> 32, 8);
  put(high >> 16, 4);
  put(high, 4);
  put(low >> 48, 4);
  put(low, 12);
  return out;
}

}  // namespace pdgate::router
