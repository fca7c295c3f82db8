// The usage of non-streamed responses, found while the body streams by, cut at every byte.
#include "router/openai/usage_scanner.h"

#include <catch2/catch.hpp>

#include "tests/router/router_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

std::optional<router::Usage> Scan(std::string_view body, size_t cut, size_t bound = 4096) {
  router::UsageScanner scanner(bound);
  scanner.Feed(body.substr(0, cut));
  scanner.Feed(body.substr(cut));
  return scanner.usage();
}

// The body whole, with simdjson's padding after it (as the relay's buffer has).
std::optional<router::Usage> Whole(std::string_view body, size_t padding = 64) {
  std::string copy(body);
  copy.reserve(body.size() + padding);
  router::UsageScanner scanner;
  scanner.FeedWhole(copy, copy.capacity());
  return scanner.usage();
}

bool Same(const std::optional<router::Usage>& a, const std::optional<router::Usage>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a ||
         (a->prompt_tokens == b->prompt_tokens && a->completion_tokens == b->completion_tokens &&
          a->cached_tokens == b->cached_tokens);
}

// SGLang's non-streamed chat response: usage, then metadata.
constexpr std::string_view kSglang =
    R"({"id":"0c1f","object":"chat.completion","created":1795600000,"model":"m",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"there\"\\",)"
    R"("reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":"length",)"
    R"("matched_stop":null}],"usage":{"prompt_tokens":12,"total_tokens":19,)"
    R"("completion_tokens":7,"prompt_tokens_details":{"cached_tokens":8},"reasoning_tokens":0},)"
    R"("metadata":{"weight_version":"default"}})";

}  // namespace

TEST_CASE("usage of vLLM's non-streamed response (usage before kv_transfer_params), any cut") {
  const std::string body = ReadFixture("vllm_prefill_response.json");
  REQUIRE(!body.empty());
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    auto usage = Scan(body, cut);
    INFO("cut at " << cut);
    REQUIRE(usage.has_value());
    CHECK(usage->prompt_tokens == 15);
    CHECK(usage->completion_tokens == 1);
  }
}

TEST_CASE("usage of SGLang's non-streamed response, fed a byte at a time") {
  router::UsageScanner scanner;
  for (char c : kSglang) scanner.Feed(std::string_view(&c, 1));
  REQUIRE(scanner.usage().has_value());
  CHECK(scanner.usage()->prompt_tokens == 12);
  CHECK(scanner.usage()->completion_tokens == 7);
  CHECK(scanner.usage()->cached_tokens == 8);
}

TEST_CASE("only the top-level usage counts: not a nested one, not one inside generated text") {
  const std::string body =
      R"({"choices":[{"text":"{\"usage\":{\"prompt_tokens\":99,\"completion_tokens\":99}}",)"
      R"("usage":{"prompt_tokens":98,"completion_tokens":98}}],)"
      R"("nested":{"usage":{"prompt_tokens":97,"completion_tokens":97}},)"
      R"("usage" : { "prompt_tokens" : 3 , "completion_tokens" : 4 } })";
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    auto usage = Scan(body, cut);
    INFO("cut at " << cut);
    REQUIRE(usage.has_value());
    CHECK(usage->prompt_tokens == 3);
    CHECK(usage->completion_tokens == 4);
  }
}

TEST_CASE("no usage: absent, null, a string, oversized, not an object, an error body") {
  CHECK_FALSE(Scan(R"({"choices":[],"usage":null,"x":{"a":1}})", 5));
  CHECK_FALSE(Scan(R"({"choices":[],"usage":"{\"prompt_tokens\":1}"})", 5));
  CHECK_FALSE(Scan(R"({"choices":[]})", 3));
  CHECK_FALSE(Scan(R"(["usage",{"prompt_tokens":1,"completion_tokens":1}])", 3));
  CHECK_FALSE(Scan("not json at all", 3));
  CHECK_FALSE(Scan(R"({"usages":{"prompt_tokens":1,"completion_tokens":1}})", 3));
  // The bound: a usage object larger than it is given up, not buffered.
  CHECK_FALSE(Scan(kSglang, 10, /*bound=*/32));
  CHECK(Scan(kSglang, 10, /*bound=*/256).has_value());
}

TEST_CASE("long text with escapes and brackets across 32-byte blocks, any cut") {
  // Runs longer than the scanner's 32-byte step, with escaped quotes and backslashes, brackets
  // and commas in strings, and keys that only look like "usage" (escaped, longer, nested).
  std::string text;
  for (int i = 0; i < 12; ++i) text += R"(word, [x] {y} \"q\" \\ )" + std::string(size_t(i), 'z');
  const std::string body = R"({"id":"a","choices":[{"message":{"content":")" + text +
                           R"("}}],"usag\u0065":{"prompt_tokens":91,"completion_tokens":91},)"
                           R"("usage_":{"prompt_tokens":92,"completion_tokens":92},"note":")" +
                           text +
                           R"(","usage":{"prompt_tokens":5,"completion_tokens":6,)"
                           R"("prompt_tokens_details":{"cached_tokens":2}},"tail":")" +
                           text + R"("})";
  REQUIRE(body.size() > 3 * 32 * 4);
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    auto usage = Scan(body, cut);
    INFO("cut at " << cut);
    REQUIRE(usage.has_value());
    CHECK(usage->prompt_tokens == 5);
    CHECK(usage->completion_tokens == 6);
    CHECK(usage->cached_tokens == 2);
  }
  router::UsageScanner scanner;
  for (char c : body) scanner.Feed(std::string_view(&c, 1));
  REQUIRE(scanner.usage().has_value());
  CHECK(scanner.usage()->prompt_tokens == 5);
}

TEST_CASE("usage objects of every shape read as a JSON parser reads them") {
  struct Case {
    std::string_view usage;
    int64_t prompt, completion, cached;
  };
  const Case cases[] = {
      {R"({"prompt_tokens":5,"completion_tokens":6,"prompt_tokens_details":{"cached_tokens":4}})",
       5, 6, 4},
      {R"({ "prompt_tokens" : -0 , "completion_tokens":9223372036854775807 })", 0, INT64_MAX, 0},
      {R"({"prompt_tokens":-9223372036854775808,"completion_tokens":null})", INT64_MIN, 0, 0},
      // not integers: left at 0 (a parser's get_int64 fails)
      {R"({"prompt_tokens":1.5,"completion_tokens":2e1,"total_tokens":3})", 0, 0, 0},
      {R"({"prompt_tokens":9223372036854775808,"completion_tokens":"7"})", 0, 0, 0},
      // the first cached_tokens of prompt_tokens_details; other objects and keys ignored
      {R"({"prompt_tokens_details":{"cached_tokens":2,"cached_tokens":3},"x":{"prompt_tokens":8}})",
       0, 0, 2},
      {R"({"prompt_tokens_details":{"cached_tokens":null,"cached_tokens":3}})", 0, 0, 0},
      {R"({"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":1}})", 0, 0,
       0},
      {R"({"prompt_tokens":1,"prompt_tokens":2,"details":[1,{"a":[true]}],"completion_tokens":3})",
       2, 3, 0},
      {R"({"pr\u006fmpt_tokens":4,"completion_tokens":1,"meta":{"deep":{"er":1}}})", 4, 1, 0},
      {"{}", 0, 0, 0},
      {R"({"note":"a\"}{[,","prompt_tokens":3,"completion_tokens":-4,"x":[[],{}]})", 3, -4, 0},
      {R"({"prompt_tokens":12,"completion_tokens":7,"total_tokens":19,)"
       R"("prompt_tokens_details":{"x":[{}],"cached_tokens":8},"reasoning_tokens":0})",
       12, 7, 8},
      {R"({"prompt_tokens":true,"completion_tokens":[1],"prompt_tokens_details":{"a":"}"}})", 0, 0,
       0},
  };
  for (const Case& c : cases) {
    const std::string body = std::string(R"({"id":"x","usage":)") + std::string(c.usage) + "}";
    INFO(body);
    auto usage = Scan(body, 7);
    REQUIRE(usage.has_value());
    CHECK(usage->prompt_tokens == c.prompt);
    CHECK(usage->completion_tokens == c.completion);
    CHECK(usage->cached_tokens == c.cached);
    CHECK(Same(Whole(body), usage));
  }
}

TEST_CASE("a body whole in one read: the parse in place finds what the scan finds") {
  std::string long_text;
  for (int i = 0; i < 12; ++i) long_text += R"(word, [x] {y} \"q\" \\ )";
  const std::string bodies[] = {
      ReadFixture("vllm_prefill_response.json"),
      std::string(kSglang),
      R"({"choices":[{"text":"{\"usage\":{\"prompt_tokens\":99}}","usage":{"prompt_tokens":98}}],)"
      R"("nested":{"usage":{"prompt_tokens":97}},"usage" : { "prompt_tokens" : 3 } })",
      R"({"usag\u0065":{"prompt_tokens":91},"note":")" + long_text +
          R"(","usage":{"prompt_tokens":5,"prompt_tokens_details":{"cached_tokens":2}}})",
      R"({"choices":[],"usage":null,"x":{"a":1}})",
      R"({"choices":[],"usage":"{\"prompt_tokens\":1}"})",
      R"(["usage",{"prompt_tokens":1,"completion_tokens":1}])",
      "not json at all",
      R"({"id":"x","usage":{"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":3}})",
      R"({"id":"x","usage":{"pr\u006fmpt_tokens":4,"completion_tokens":1}})",
      // Found where the key is written: a top-level usage before a nested one, a key that ends
      // in an escaped quote, brackets in strings after it, blanks, blocks of 64 bytes crossed.
      R"({"usage":{"prompt_tokens":4},"x":{"usage":{"prompt_tokens":5}}})",
      R"({"x\"usage":{"prompt_tokens":9},"usage":{"prompt_tokens":2}})",
      R"({"usage":{"prompt_tokens":1},"kv_transfer_params":{"remote_host":"}}]]\"{"}} )"
      "\n\r\t",
      "{\"usage\" \n:\t{\"prompt_tokens\":" + std::string(150, ' ') +
          R"(21,"completion_tokens":3}, "text":")" + long_text + R"("})",
      R"({"a":[{"usage":{"prompt_tokens":1}}],"b":{"usage":null}})",
      R"({"choices":[{"text":"\"usage\":{}"}]})",
      R"({"usage":{"prompt_tokens":1})",
  };
  for (const std::string& body : bodies) {
    INFO(body);
    CHECK(Same(Whole(body), Scan(body, 0)));
  }
  CHECK(Whole(bodies[0]).value().prompt_tokens == 15);
  CHECK(Whole(bodies[2]).value().prompt_tokens == 3);
  CHECK(Whole(bodies[3]).value().cached_tokens == 2);
  CHECK_FALSE(Whole(bodies[4]));
  CHECK(Whole(bodies[10]).value().prompt_tokens == 4);
  CHECK(Whole(bodies[11]).value().prompt_tokens == 2);
  CHECK(Whole(bodies[12]).value().prompt_tokens == 1);
  CHECK(Whole(bodies[13]).value().prompt_tokens == 21);
  CHECK_FALSE(Whole(bodies[14]));
  CHECK_FALSE(Whole(bodies[15]));
  // A body cut off after its usage: found, as the scan finds it once the object has closed.
  CHECK(Whole(bodies[16]).value().prompt_tokens == 1);
  // Larger than the bound on the usage object: none, as the scan says.
  const std::string large =
      R"({"usage":{"prompt_tokens":1,"pad":")" + std::string(5000, 'p') + R"("},"x":1})";
  CHECK_FALSE(Whole(large));
  CHECK_FALSE(Scan(large, 0));
}

TEST_CASE("a body whole in one read that the parse rejects, or without padding, is scanned") {
  // Invalid UTF-8 in generated text: simdjson refuses the document; the scan still counts it.
  const std::string broken =
      "{\"choices\":[{\"text\":\"\xff\xfe\"}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":"
      "2}}";
  REQUIRE(Whole(broken).has_value());
  CHECK(Whole(broken)->prompt_tokens == 7);
  CHECK(Whole(broken)->completion_tokens == 2);
  // Too little room after the body for a parse in place: scanned.
  router::UsageScanner scanner;
  scanner.FeedWhole(kSglang, kSglang.size());
  REQUIRE(scanner.usage().has_value());
  CHECK(scanner.usage()->cached_tokens == 8);
}
