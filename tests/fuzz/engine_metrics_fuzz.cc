// An engine's Prometheus /metrics text through the parser and the load tracker, twice in a row
// (the tracker's interval logic needs two samples). Properties: nothing crashes; the derived
// load is never NaN and a KV usage is a fraction (or -1: not given).
#include <cmath>
#include <cstdint>
#include <string_view>

#include "discovery/engine_metrics.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pdgate::discovery;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t half = text.size() / 2;
  LoadTracker tracker;
  for (std::string_view scrape : {text.substr(0, half), text.substr(half), text}) {
    const EngineSample sample = ParseEngineMetrics(scrape);
    const EngineLoad load = tracker.Update(sample);
    for (double value : {load.running, load.waiting, load.kv_usage, load.ttft_s, load.itl_s,
                         load.prefix_hit_ratio}) {
      FUZZ_CHECK(!std::isnan(value));
    }
    if (sample.has_kv_usage) {
      FUZZ_CHECK(load.kv_usage >= 0 && load.kv_usage <= 1);
    } else {
      FUZZ_CHECK(load.kv_usage == -1);
    }
  }
  return 0;
}
