#include "router/limits/token_estimate.h"

namespace pdgate::limits {

int64_t EstimateInputTokens(std::string_view prompt_json) {
  int64_t characters = 0;
  for (char c : prompt_json) {
    // Every byte but a UTF-8 continuation byte (10xxxxxx) starts a character.
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++characters;
  }
  return characters == 0 ? 1 : (characters + 3) / 4;
}

}  // namespace pdgate::limits
