#include "router/auth/principal.h"

#include <catch2/catch.hpp>

namespace pdgate::auth {
namespace {

TEST_CASE("AuthMethod names are the log and metric label values", "[auth]") {
  CHECK(ToString(AuthMethod::kNone) == "none");
  CHECK(ToString(AuthMethod::kJwt) == "jwt");
  CHECK(ToString(AuthMethod::kApiKey) == "api_key");
}

TEST_CASE("Allows: empty allowed_models means every model, otherwise exact names", "[auth]") {
  Principal anyone;
  CHECK(Allows(anyone, "llama-3"));
  Principal restricted;
  restricted.allowed_models = {"llama-3", "qwen"};
  CHECK(Allows(restricted, "qwen"));
  CHECK_FALSE(Allows(restricted, "Qwen"));
  CHECK_FALSE(Allows(restricted, "llama"));
  CHECK_FALSE(Allows(restricted, ""));
}

}  // namespace
}  // namespace pdgate::auth
