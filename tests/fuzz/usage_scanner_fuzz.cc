// A non-streamed response body through UsageScanner, cut into reads at fuzzer-chosen points.
// Properties: nothing crashes; the usage found does not depend on where the reads were cut.
#include <cstdint>
#include <string_view>

#include "router/openai/sse_filter.h"
#include "router/openai/usage_scanner.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  pdgate::router::UsageScanner whole;
  whole.Feed(body);
  pdgate::router::UsageScanner pieces;
  for (size_t at = 0; at < body.size();) {
    seed = seed * 1103515245u + 12345u;
    const size_t n = 1 + (seed >> 16) % 17;
    pieces.Feed(body.substr(at, n));
    at += n;
  }
  FUZZ_CHECK(whole.usage().has_value() == pieces.usage().has_value());
  if (whole.usage()) {
    FUZZ_CHECK(whole.usage()->prompt_tokens == pieces.usage()->prompt_tokens);
    FUZZ_CHECK(whole.usage()->completion_tokens == pieces.usage()->completion_tokens);
    FUZZ_CHECK(whole.usage()->cached_tokens == pieces.usage()->cached_tokens);
  }
  return 0;
}
