// A non-streamed response body through UsageScanner, cut into reads at fuzzer-chosen points.
// Properties: nothing crashes; the usage found does not depend on where the reads were cut; and
// when the body is valid JSON, it is the usage a full parse of the body finds (the oracle:
// simdjson's DOM, then the top-level "usage" member read as ReadUsage reads it). FeedWhole (the
// body in one piece, parsed in place, scanned when the parse finds nothing) gives the same.
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "router/openai/sse_filter.h"
#include "router/openai/usage_scanner.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using pdgate::router::Usage;

bool Same(const std::optional<Usage>& a, const std::optional<Usage>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a ||
         (a->prompt_tokens == b->prompt_tokens && a->completion_tokens == b->completion_tokens &&
          a->cached_tokens == b->cached_tokens);
}

// What a whole-body parse says; false when there is nothing to compare with: the body is no
// JSON, it is longer than the scanner's bound on the usage object, it has \u escapes (the scanner
// matches the key "usage" as written, a parse unescapes it), or "usage" twice at the top.
bool Expected(std::string_view body, std::optional<Usage>& expected) {
  if (body.size() > 4096 || body.find("\\u") != std::string_view::npos) return false;
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size()).get(doc)) return false;
  simdjson::dom::object object;
  if (doc.get_object().get(object)) {
    expected.reset();  // not an object
    return true;
  }
  int found = 0;
  expected.reset();
  for (auto [key, value] : object) {
    if (key != "usage") continue;
    if (++found > 1) return false;
    if (value.is_object()) {
      expected = pdgate::router::ReadUsage("{\"usage\":" + simdjson::minify(value) + "}");
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint32_t seed = data[0];
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  pdgate::router::UsageScanner whole;
  whole.Feed(body);
  pdgate::router::UsageScanner pieces;
  for (size_t at = 0; at < body.size();) {
    seed = seed * 1103515245u + 12345u;
    const size_t n = 1 + (seed >> 16) % 97;  // cuts inside and across 64-byte blocks
    pieces.Feed(body.substr(at, n));
    at += n;
  }
  FUZZ_CHECK(Same(whole.usage(), pieces.usage()));
  std::string padded(body);
  padded.reserve(body.size() + 64);
  pdgate::router::UsageScanner in_place;
  in_place.FeedWhole(padded, padded.capacity());
  std::optional<Usage> expected;
  if (Expected(body, expected)) {
    FUZZ_CHECK(Same(whole.usage(), expected));
    FUZZ_CHECK(Same(in_place.usage(), expected));
  }
  return 0;
}
