// Error bodies: ours, and engines' normalised to the nested OpenAI shape.
#include "router/openai/openai_error.h"

#include <catch2/catch.hpp>

#include "tests/router/router_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

TEST_CASE("pdgate's errors have the OpenAI shape") {
  CHECK(
      router::ErrorBody({404, "The model `x` does not exist.", "", "model", "model_not_found"}) ==
      R"({"error":{"message":"The model `x` does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}})");
  CHECK(
      router::ErrorBody({503, "no \"pair\"", "", "", ""}) ==
      R"({"error":{"message":"no \"pair\"","type":"service_unavailable","param":null,"code":null}})");
}

TEST_CASE("engine errors: nested kept, flat and bare-string normalised") {
  const std::string nested = ReadFixture("vllm_error_nested.json");
  CHECK(router::NormalizeEngineError(400, nested) == nested);
  CHECK(
      router::NormalizeEngineError(404, ReadFixture("vllm_error_flat_legacy.json")) ==
      R"({"error":{"message":"The model `gpt-4` does not exist.","type":"NotFoundError","param":null,"code":404}})");
  CHECK(
      router::NormalizeEngineError(401, ReadFixture("vllm_unauthorized.json")) ==
      R"({"error":{"message":"Unauthorized","type":"authentication_error","param":null,"code":401}})");
  CHECK(
      router::NormalizeEngineError(502, "<html>bad gateway</html>") ==
      R"({"error":{"message":"<html>bad gateway</html>","type":"server_error","param":null,"code":502}})");
}

TEST_CASE("a mid-stream error is one event, then [DONE]") {
  CHECK(router::ErrorEvent({502, "decode failed", "", "", ""}) ==
        "data: {\"error\":{\"message\":\"decode "
        "failed\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\ndata: [DONE]\n\n");
}
