#include "router/openai/request_id.h"

namespace pdgate::router {

std::string NewRequestId(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t high = rng(), low = rng();
  high = (high & ~0xf000ull) | 0x4000ull;                // version 4
  low = (low & ~(0xc000ull << 48)) | (0x8000ull << 48);  // variant 10
  std::string out;
  out.reserve(36);
  auto put = [&](uint64_t value, int nibbles) {
    for (int i = nibbles - 1; i >= 0; --i) out.push_back(kHex[(value >> (i * 4)) & 0xf]);
  };
  put(high >> 32, 8);
  out.push_back('-');
  put(high >> 16, 4);
  out.push_back('-');
  put(high, 4);
  out.push_back('-');
  put(low >> 48, 4);
  out.push_back('-');
  put(low, 12);
  return out;
}

}  // namespace pdgate::router
