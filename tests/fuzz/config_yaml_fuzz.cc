// A YAML document through the configuration loader, as a file or the API server would give it.
// Properties: nothing crashes or throws out of the loader; a load either yields a config or
// names at least one error.
#include <cstdint>
#include <string_view>

#include "config/loader.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pdgate::config::ConfigLoader loader;
  loader.AddYaml("fuzz.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  pdgate::config::LoadResult result = loader.Finish();
  FUZZ_CHECK((result.config != nullptr) != !result.errors.empty());
  return 0;
}
