// kvcache-aware's prompt token ids: a prompt given as ids, the /tokenize body and answer (vLLM's
// TokenizeResponse: count, max_model_len, tokens, token_strs), and the per-thread cache.
#include "router/openai/prompt_tokens.h"

#include <simdjson.h>
#include <xxhash.h>

#include <catch2/catch.hpp>

#include "router/runtime/tokenize_cache.h"
#include "tests/router/router_test_util.h"

using namespace pdgate::router;
using pdgate::testing::PaddedBody;

TEST_CASE("a completions prompt of token ids is used as it is, anything else is not") {
  CHECK(PromptTokenIds("[1, 2, 4294967295]") == std::vector<uint32_t>{1, 2, 4294967295u});
  CHECK_FALSE(PromptTokenIds("\"text\"").has_value());
  CHECK_FALSE(PromptTokenIds("[]").has_value());
  CHECK_FALSE(PromptTokenIds("[[1, 2], [3]]").has_value());  // a batch
  CHECK_FALSE(PromptTokenIds("[1, -2]").has_value());
  CHECK_FALSE(PromptTokenIds("[1, 4294967296]").has_value());
  CHECK_FALSE(PromptTokenIds("[1.5]").has_value());
  CHECK_FALSE(PromptTokenIds("[\"a\"]").has_value());
  CHECK_FALSE(PromptTokenIds("[1, 2").has_value());
}

TEST_CASE("the /tokenize body renders chat with the generation prompt, as the completion does") {
  PaddedBody chat_body(
      R"({"model":"m","messages":[{"role":"user","content":"hi \"x\""}],"max_tokens":3,)"
      R"("tools":[{"type":"function","function":{"name":"f"}}],"temperature":0.5})");
  auto request = chat_body.Parse();
  REQUIRE(request.ok());
  const std::string chat = TokenizeBody(*request, chat_body.view(), "\"m\"", /*chat=*/true);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE(parser.parse(chat).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["model"].get_string().value()) == "m");
  CHECK(doc["add_generation_prompt"].get_bool().value());
  CHECK(std::string_view(doc["messages"].at(0)["content"].get_string().value()) == "hi \"x\"");
  // The tools render into the prompt: they go along; sampling fields do not.
  CHECK(doc["tools"].get_array().size() == 1);
  CHECK(doc["max_tokens"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(doc["temperature"].error() == simdjson::NO_SUCH_FIELD);

  // A client's own add_generation_prompt is kept, and not doubled.
  PaddedBody continued(R"({"model":"m","messages":[{"role":"assistant","content":"Once"}],)"
                       R"("add_generation_prompt":false,"continue_final_message":true})");
  request = continued.Parse();
  REQUIRE(request.ok());
  const std::string body = TokenizeBody(*request, continued.view(), "\"x\"", true);
  CHECK(body.find("\"add_generation_prompt\":false") != std::string::npos);
  CHECK(body.find("\"add_generation_prompt\":true") == std::string::npos);
  REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
  CHECK(doc["continue_final_message"].get_bool().value());

  PaddedBody completion(R"({"model":"m","prompt":"once upon","tools":[]})");
  request = completion.Parse();
  REQUIRE(request.ok());
  const std::string prompt = TokenizeBody(*request, completion.view(), "\"m\"", false);
  REQUIRE(parser.parse(prompt).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["prompt"].get_string().value()) == "once upon");
  CHECK(doc["tools"].error() == simdjson::NO_SUCH_FIELD);
  CHECK(doc["add_generation_prompt"].error() == simdjson::NO_SUCH_FIELD);
}

namespace {

// The prefix key of a chat request written as `body`, as the flow computes it.
std::optional<uint64_t> PrefixKeyOf(const std::string& text, std::string_view model = "\"m\"") {
  PaddedBody body(text);
  auto request = body.Parse();
  REQUIRE(request.ok());
  return PromptPrefixKey(TokenizeBody(*request, body.view(), model, true), request->prompt_json);
}

}  // namespace

TEST_CASE("requests that differ only in their last message share a prefix key") {
  const std::string system = R"({"role":"system","content":"Be brief, [and] {kind} \"ok\"."})";
  auto chat = [&](const std::string& last, const std::string& extra = "") {
    return R"({"model":"m","messages":[)" + system + "," + last + "]" + extra + "}";
  };
  const auto a = PrefixKeyOf(chat(R"({"role":"user","content":"What is 1?"})"));
  const auto b = PrefixKeyOf(chat(R"( {"content":"Why, \"2\"]?","role":"user"} )"));
  REQUIRE(a.has_value());
  CHECK(a == b);
  // What the rendering depends on still counts: the model, the template fields, the prefix.
  CHECK(PrefixKeyOf(chat(R"({"role":"user","content":"x"})"), "\"n\"") != a);
  CHECK(PrefixKeyOf(chat(R"({"role":"user","content":"x"})", R"(,"tools":[])")) != a);
  CHECK(PrefixKeyOf(R"({"model":"m","messages":[{"role":"system","content":"Other"},)"
                    R"({"role":"user","content":"What is 1?"}]})") != a);
  // A longer history is another prefix.
  CHECK(PrefixKeyOf(chat(R"({"role":"user","content":"q"},{"role":"assistant","content":"a"})")) !=
        a);
  // One message has no prefix to share.
  CHECK_FALSE(PrefixKeyOf(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})"));
  // And a prefix key is not the whole body's.
  PaddedBody one(chat(R"({"role":"user","content":"What is 1?"})"));
  auto request = one.Parse();
  REQUIRE(request.ok());
  const std::string whole = TokenizeBody(*request, one.view(), "\"m\"", true);
  CHECK(XXH3_64bits(whole.data(), whole.size()) != *a);
}

TEST_CASE("the prefix key cuts the last message whatever its content holds") {
  // Brackets, braces, commas and escaped quotes inside strings do not end a message.
  const std::string first = R"({"role":"system","content":"a ], b } \", [ { x"})";
  auto chat = [&](const std::string& last) {
    return R"({"model":"m","messages":[)" + first + "," + last + "]}";
  };
  const auto base = PrefixKeyOf(chat(R"({"role":"user","content":"]]]"})"));
  REQUIRE(base.has_value());
  CHECK(PrefixKeyOf(chat(R"({"role":"user","content":"\"],[{"})")) == base);
  CHECK(PrefixKeyOf(chat(R"({"role":"user","content":[{"type":"text","text":"}]"}]})")) == base);
  // Spacing around the cut does not count either.
  CHECK(PrefixKeyOf(R"({"model":"m","messages":[)" + first + " ,\n " +
                    R"({"role":"user","content":"q"} ]})") == base);
  // Empty and one-message arrays have no prefix.
  CHECK_FALSE(PrefixKeyOf(R"({"model":"m","messages":[ ]})"));
  CHECK_FALSE(PrefixKeyOf(R"({"model":"m","messages":[ {"role":"user","content":"a,b"} ]})"));
}

TEST_CASE("a /tokenize answer gives its tokens, other shapes are errors") {
  // vLLM's TokenizeResponse, with and without token_strs.
  auto ids = ParseTokenizeAnswer(
      R"({"count":3,"max_model_len":32768,"tokens":[151644,872,198],"token_strs":null})", 100);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<uint32_t>{151644, 872, 198});
  ids = ParseTokenizeAnswer(
      R"({"count":2,"max_model_len":8,"tokens":[1,2],"token_strs":["<s>","a"]})", 100);
  REQUIRE(ids.ok());
  CHECK(ids->size() == 2);
  CHECK_FALSE(ParseTokenizeAnswer(R"({"count":2})", 100).ok());
  CHECK_FALSE(ParseTokenizeAnswer(R"({"tokens":"1 2"})", 100).ok());
  CHECK_FALSE(ParseTokenizeAnswer(R"({"tokens":[1,-1]})", 100).ok());
  CHECK_FALSE(ParseTokenizeAnswer(R"({"tokens":[1,2,3]})", 2).ok());  // over the bound
  CHECK_FALSE(ParseTokenizeAnswer(R"({"object":"error","message":"x","code":400})", 100).ok());
  CHECK_FALSE(ParseTokenizeAnswer("not json", 100).ok());
}

TEST_CASE("the tokenize cache keeps the most recently used entries within its bounds") {
  TokenizeCache cache;
  auto tokens = [](uint32_t v, size_t n = 1) {
    return std::make_shared<const std::vector<uint32_t>>(n, v);
  };
  cache.Insert(1, tokens(1), 2, 100);
  cache.Insert(2, tokens(2), 2, 100);
  REQUIRE(cache.Find(1) != nullptr);   // 1 is now the most recent
  cache.Insert(3, tokens(3), 2, 100);  // evicts 2
  CHECK(cache.Find(2) == nullptr);
  REQUIRE(cache.Find(1) != nullptr);
  CHECK((*cache.Find(1))[0] == 1);
  CHECK((*cache.Find(3))[0] == 3);
  CHECK(cache.size() == 2);
  cache.Insert(3, tokens(30), 2, 100);  // replaces
  CHECK((*cache.Find(3))[0] == 30);
  cache.Insert(4, tokens(4), 0, 100);  // no entries allowed: caching is off
  CHECK(cache.Find(4) == nullptr);
  // The id budget: a 60-id prompt pushes out older ones until 100 ids hold; a 101-id one is
  // never kept.
  cache.Insert(5, tokens(5, 60), 10, 100);
  cache.Insert(6, tokens(6, 50), 10, 100);
  CHECK(cache.Find(5) == nullptr);
  CHECK(cache.Find(6) != nullptr);
  CHECK(cache.ids() <= 100);
  cache.Insert(7, tokens(7, 101), 10, 100);
  CHECK(cache.Find(7) == nullptr);
  CHECK(cache.ids() <= 100);
}
