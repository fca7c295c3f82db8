// A decode stream through SseFilter, cut into reads at fuzzer-chosen points. Properties: nothing
// crashes; without usage-chunk dropping the filter forwards every byte unchanged, however the
// stream is cut and however small its event bound; with dropping, the output does not depend on
// where the reads were cut.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "router/openai/sse_filter.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using pdgate::router::SseFilter;

std::string Run(SseFilter& filter, std::string_view stream, const std::vector<size_t>& cuts) {
  std::string out;
  size_t at = 0;
  for (size_t cut : cuts) {
    filter.Feed(stream.substr(at, cut - at), out);
    at = cut;
  }
  filter.Feed(stream.substr(at), out);
  filter.Finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // First byte: the event bound for the pass-through run; second: a seed for the cut points.
  if (size < 2) return 0;
  const size_t small_bound = 1 + data[0] % 64;
  uint32_t seed = data[1];
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::vector<size_t> cuts;
  for (size_t at = 0; at < stream.size();) {
    seed = seed * 1103515245u + 12345u;
    at += 1 + (seed >> 16) % 23;
    if (at < stream.size()) cuts.push_back(at);
  }

  SseFilter keep_all(false, small_bound);
  FUZZ_CHECK(Run(keep_all, stream, cuts) == stream);
  SseFilter keep_all_whole(false);
  FUZZ_CHECK(Run(keep_all_whole, stream, {}) == stream);

  SseFilter whole(true);
  SseFilter pieces(true);
  const std::string whole_out = Run(whole, stream, {});
  FUZZ_CHECK(Run(pieces, stream, cuts) == whole_out);
  FUZZ_CHECK(whole.usage().has_value() == pieces.usage().has_value());
  FUZZ_CHECK(whole.events() == pieces.events());
  FUZZ_CHECK(whole_out.size() <= stream.size());
  return 0;
}
