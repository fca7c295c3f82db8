// Unit tests of pdgate-bench's pure parts: SSE and body parsing, datasets, arrivals, the target
// URL and request bodies. Metrics and reports are in loadgen_unit_test.cc.
#include <simdjson.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>

#include "bench/loadgen/arrivals.h"
#include "bench/loadgen/client.h"
#include "bench/loadgen/dataset.h"
#include "bench/loadgen/html_report.h"
#include "bench/loadgen/metrics.h"
#include "bench/loadgen/overhead.h"
#include "bench/loadgen/report.h"
#include "bench/loadgen/response_parse.h"

namespace pdgate::loadgen {
namespace {

using Catch::Matchers::WithinAbs;

TEST_CASE("SseParser splits events across reads, CRLF and multi-line data") {
  SseParser p;
  std::vector<std::string> events;
  p.Feed("data: {\"a\":1}\n\nda", events);
  REQUIRE(events.size() == 1);
  CHECK(events[0] == "{\"a\":1}");
  CHECK(p.HasPartial());
  p.Feed("ta: x\r\ndata: y\r\n\r\n: comment\n\nevent: e\ndata:[DONE]\n\n", events);
  REQUIRE(events.size() == 2);
  CHECK(events[0] == "x\ny");
  CHECK(events[1] == "[DONE]");
  CHECK_FALSE(p.HasPartial());
}

TEST_CASE("InspectChunk reads content, usage and errors") {
  // vLLM's first chat chunk carries the role and empty content: not a token.
  ChunkInfo c =
      InspectChunk(R"({"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})");
  CHECK(c.parsed);
  CHECK(c.has_choices);
  CHECK_FALSE(c.has_content);
  c = InspectChunk(R"({"choices":[{"index":0,"delta":{"content":" cap"}}]})");
  CHECK(c.has_content);
  c = InspectChunk(R"({"choices":[{"index":0,"text":" ital","finish_reason":null}]})");
  CHECK(c.has_content);
  c = InspectChunk(R"({"choices":[{"message":{"role":"assistant","content":"hi"}}],
      "usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,
               "prompt_tokens_details":{"cached_tokens":8}}})");
  CHECK(c.has_content);
  REQUIRE(c.usage);
  CHECK(c.usage->prompt_tokens == 12);
  CHECK(c.usage->completion_tokens == 3);
  CHECK(c.usage->cached_tokens == 8);
  c = InspectChunk(R"({"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}})");
  CHECK_FALSE(c.has_choices);
  REQUIRE(c.usage);
  CHECK(c.usage->cached_tokens == 0);
  c = InspectChunk(R"({"choices":[],"usage":null})");
  CHECK_FALSE(c.usage);
  c = InspectChunk(R"({"error":{"message":"boom","code":500}})");
  CHECK(c.is_error);
  CHECK_FALSE(InspectChunk("{\"choices\":[").parsed);
  CHECK_FALSE(InspectChunk("[1]").parsed);
}

TEST_CASE("Random prompts are reproducible and have the asked lengths") {
  RandomSpec spec;
  spec.input_len = 50;
  spec.output_len = 20;
  spec.prefix_len = 10;
  const auto a = RandomPrompts(spec, 20, 7);
  const auto b = RandomPrompts(spec, 20, 7);
  const auto c = RandomPrompts(spec, 20, 8);
  REQUIRE(a.size() == 20);
  CHECK(a[3].text == b[3].text);
  CHECK(a[3].text != c[3].text);
  for (const Prompt& p : a) {
    CHECK(EstimateTokens(p.text) == 60);
    CHECK(p.prompt_tokens == 60);
    CHECK(p.output_tokens == 20);
    CHECK(p.text.substr(0, 40) == a[0].text.substr(0, 40));  // the shared prefix
  }
  spec.range_ratio = 0.5;
  spec.prefix_len = 0;
  std::set<int64_t> lengths;
  for (const Prompt& p : RandomPrompts(spec, 200, 1)) {
    CHECK(p.prompt_tokens >= 25);
    CHECK(p.prompt_tokens <= 75);
    CHECK(p.output_tokens >= 10);
    CHECK(p.output_tokens <= 30);
    CHECK(EstimateTokens(p.text) == p.prompt_tokens);
    lengths.insert(p.prompt_tokens);
  }
  CHECK(lengths.size() > 20);
}

TEST_CASE("Shared-prefix prompts: groups x prompts, one system prompt per group") {
  SharedPrefixSpec spec;
  spec.groups = 4;
  spec.prompts_per_group = 5;
  spec.system_len = 30;
  spec.question_len = 7;
  spec.output_len = 9;
  const auto prompts = SharedPrefixPrompts(spec, 3);
  REQUIRE(prompts.size() == 20);
  std::map<std::string, int> per_system;
  std::set<std::string> questions;
  for (const Prompt& p : prompts) {
    ++per_system[p.system];
    questions.insert(p.text);
    CHECK(EstimateTokens(p.system) == 30);
    CHECK(EstimateTokens(p.text) == 7);
    CHECK(p.output_tokens == 9);
  }
  CHECK(per_system.size() == 4);
  for (const auto& [system, n] : per_system) CHECK(n == 5);
  CHECK(questions.size() == 20);
  CHECK(SharedPrefixPrompts(spec, 3)[0].text == prompts[0].text);
}

TEST_CASE("ShareGPT files: first exchange, vLLM's length filters, seeded order") {
  const std::string path = "/tmp/pdgate_loadgen_sharegpt_" + std::to_string(getpid()) + ".json";
  {
    std::ofstream f(path);
    f << R"([
      {"id":"a","conversations":[{"from":"human","value":"what is the capital of france today"},
                                 {"from":"gpt","value":"the capital of france is paris, as always"}]},
      {"id":"b","conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"hello there my friend"}]},
      {"id":"c","conversations":[{"from":"human","value":"only one turn here"}]},
      {"id":"d","conversations":[{"from":"human","value":"tell me a long story about dragons"},
                                 {"from":"gpt","value":"once upon a time there was a dragon"}]}
    ])";
  }
  auto prompts = ShareGptPrompts(path, 0, 1, 0);
  REQUIRE(prompts.ok());
  REQUIRE(prompts->size() == 2);  // "hi" is too short, "c" has no reply
  std::set<std::string> texts;
  for (const Prompt& p : *prompts) {
    texts.insert(p.text);
    CHECK(p.output_tokens >= 4);
  }
  CHECK(texts.count("what is the capital of france today") == 1);
  auto overridden = ShareGptPrompts(path, 1, 1, 33);
  REQUIRE(overridden.ok());
  REQUIRE(overridden->size() == 1);
  CHECK((*overridden)[0].output_tokens == 33);
  CHECK_FALSE(ShareGptPrompts("/nonexistent/file.json", 0, 1, 0).ok());
  std::remove(path.c_str());
}

TEST_CASE("Arrivals: gamma gaps with mean 1/rate and CV 1/sqrt(burstiness)") {
  for (double burstiness : {1.0, 4.0, 0.25}) {
    Arrivals a(100, burstiness, 42);
    const int n = 100000;
    double previous = a.Next();
    CHECK(previous == 0);
    std::vector<double> gaps;
    for (int i = 0; i < n; ++i) {
      const double t = a.Next();
      gaps.push_back(t - previous);
      previous = t;
    }
    const Distribution d = Describe(gaps, {});
    CHECK_THAT(d.mean, WithinAbs(0.01, 0.0003));
    CHECK_THAT(d.std / d.mean, WithinAbs(1 / std::sqrt(burstiness), 0.05));
  }
  Arrivals all_at_once(std::numeric_limits<double>::infinity(), 1, 1);
  CHECK(all_at_once.Next() == 0);
  CHECK(all_at_once.Next() == 0);
  Arrivals x(10, 1, 5), y(10, 1, 5);
  for (int i = 0; i < 10; ++i) CHECK(x.Next() == y.Next());
}

TEST_CASE("ParseUrl takes host, port and a base path without /v1") {
  auto t = ParseUrl("http://127.0.0.2:8080/v1/");
  REQUIRE(t.ok());
  CHECK(t->host == "127.0.0.2");
  CHECK(t->port == 8080);
  CHECK(t->base_path.empty());
  t = ParseUrl("http://gw/prefix");
  REQUIRE(t.ok());
  CHECK(t->port == 80);
  CHECK(t->base_path == "/prefix");
  CHECK_FALSE(ParseUrl("https://x:1").ok());
  CHECK_FALSE(ParseUrl("http://x:99999").ok());
  CHECK_FALSE(ParseUrl("http://:80").ok());
}

TEST_CASE("RequestBody: chat and completions bodies are valid JSON with the options") {
  LoadOptions o;
  o.model = "m\"x";
  o.ignore_eos = true;
  Prompt p;
  p.system = "sys";
  p.text = "line\nwith \"quotes\"";
  p.output_tokens = 7;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string body = RequestBody(o, p);
  REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["model"]) == "m\"x");
  CHECK(std::string_view(doc.at_pointer("/messages/0/role")) == "system");
  CHECK(std::string_view(doc.at_pointer("/messages/1/content")) == p.text);
  CHECK(int64_t(doc["max_tokens"]) == 7);
  CHECK(bool(doc["stream"]));
  CHECK(bool(doc.at_pointer("/stream_options/include_usage")));
  CHECK(bool(doc["ignore_eos"]));
  o.chat = false;
  o.stream = false;
  body = RequestBody(o, p);
  REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
  CHECK(std::string_view(doc["prompt"]) == "sys\n" + p.text);
  CHECK_FALSE(bool(doc["stream"]));
  CHECK(doc["stream_options"].error() == simdjson::NO_SUCH_FIELD);
}

TEST_CASE("RequestBody --reserialize: four writings of the same messages") {
  LoadOptions o;
  o.model = "m";
  o.reserialize = true;
  Prompt p;
  p.system = "sys";
  p.text = "hello";
  std::set<std::string> bodies;
  simdjson::dom::parser parser;
  for (uint64_t variant = 0; variant < 8; ++variant) {
    const std::string body = RequestBody(o, p, variant);
    bodies.insert(body);
    simdjson::dom::element doc;
    REQUIRE(parser.parse(body).get(doc) == simdjson::SUCCESS);
    CHECK(std::string_view(doc.at_pointer("/messages/0/role")) == "system");
    CHECK(std::string_view(doc.at_pointer("/messages/0/content")) == "sys");
    CHECK(std::string_view(doc.at_pointer("/messages/1/content")) == "hello");
  }
  CHECK(bodies.size() == 4);
  o.reserialize = false;
  CHECK(RequestBody(o, p, 1) == RequestBody(o, p, 0));
}

}  // namespace
}  // namespace pdgate::loadgen
