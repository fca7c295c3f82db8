// The usage object read without a parser: what it reads equals what a parse reads, and what it
// does not read is left to the parse.
#include "router/openai/plain_usage.h"

#include <catch2/catch.hpp>
#include <string>

#include "router/openai/sse_filter.h"

using pdgate::router::ReadPlainUsage;
using pdgate::router::ReadUsage;
using pdgate::router::Usage;

namespace {

void RequireSame(const Usage& a, const Usage& b) {
  CHECK(a.prompt_tokens == b.prompt_tokens);
  CHECK(a.completion_tokens == b.completion_tokens);
  CHECK(a.cached_tokens == b.cached_tokens);
}

}  // namespace

TEST_CASE("plain usage objects read as the parser reads them") {
  const char* const objects[] = {
      // vLLM (shared/fixtures), SGLang, and the shapes around them.
      R"({"prompt_tokens":15,"total_tokens":16,"completion_tokens":1,"prompt_tokens_details":null})",
      R"({"prompt_tokens":15,"total_tokens":20,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":7}})",
      R"({"prompt_tokens":4,"total_tokens":6,"completion_tokens":2})",
      R"({"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15})",
      " {\n  \"prompt_tokens\" : 0 ,\r\n\t\"completion_tokens\":999999999999999999 } ",
      R"({})",
      R"({ })",
      R"({"completion_tokens":1,"completion_tokens":2})",  // the last one counts, as parsed
      R"({"prompt_tokens":null,"completion_tokens":3})",
      R"({"prompt_tokens_details":5,"prompt_tokens":2})",
      R"({"other":7,"prompt_tokens":1})",
  };
  for (const char* object : objects) {
    INFO(object);
    const std::optional<Usage> plain = ReadPlainUsage(object);
    REQUIRE(plain.has_value());
    const std::optional<Usage> parsed = ReadUsage(std::string(R"({"usage":)") + object + "}");
    REQUIRE(parsed.has_value());
    RequireSame(*plain, *parsed);
  }
}

TEST_CASE("anything but the plain form is left to the parser") {
  const char* const objects[] = {
      R"({"prompt_tokens":-1})",
      R"({"prompt_tokens":1.0})",
      R"({"prompt_tokens":1e3})",
      R"({"prompt_tokens":01})",
      R"({"prompt_tokens":1234567890123456789})",  // 19 digits
      R"({"prompt_tokens":"5"})",
      R"({"prompt_tokens":true})",
      R"({"prompt\u005ftokens":5})",
      "{\"pr\xc3\xa9mpt\":5}",
      R"({"completion_tokens_details":{"reasoning_tokens":0},"prompt_tokens":1})",
      R"({"prompt_tokens_details":{"cached_tokens":1,"audio_tokens":0}})",
      R"({"prompt_tokens_details":{}})",
      R"({"prompt_tokens":[1]})",
      R"({"prompt_tokens":1,})",
      R"({"prompt_tokens":1 "completion_tokens":2})",
      R"({"prompt_tokens":1})",  // cut below: no closing brace
      R"({"prompt_tokens":1}x)",
      R"({"prompt_tokens":nul})",
      "",
      "[]",
  };
  for (std::string object : objects) {
    if (object == R"({"prompt_tokens":1})") object.pop_back();
    INFO(object);
    CHECK_FALSE(ReadPlainUsage(object).has_value());
  }
}
