// The SSE filter over real vLLM streams, cut at every possible byte.
#include "router/openai/sse_filter.h"

#include <catch2/catch.hpp>

#include "tests/router/router_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

std::string Run(router::SseFilter& filter, const std::string& stream, size_t cut) {
  std::string out;
  filter.Feed(std::string_view(stream).substr(0, cut), out);
  filter.Feed(std::string_view(stream).substr(cut), out);
  filter.Finish(out);
  return out;
}

std::string WithoutUsageChunk(const std::string& stream) {
  size_t start = stream.find(
      "data: "
      "{\"id\":\"chatcmpl-3f2a9c1e-5b7d-4e8a-9c1d-2e3f4a5b6c7d\",\"object\":\"chat.completion."
      "chunk\",\"created\":1795600002,\"model\":\"deepseek-ai/DeepSeekV2\",\"choices\":[],");
  REQUIRE(start != std::string::npos);
  size_t end = stream.find("\n\n", start) + 2;
  return stream.substr(0, start) + stream.substr(end);
}

}  // namespace

TEST_CASE("a stream passes unchanged at every split point, and usage is read") {
  const std::string stream = ReadFixture("vllm_decode_stream_chat.sse");
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    router::SseFilter filter(/*drop_usage_chunk=*/false);
    REQUIRE(Run(filter, stream, cut) == stream);
    REQUIRE(filter.saw_done());
    REQUIRE(filter.usage().has_value());
    CHECK(filter.usage()->prompt_tokens == 15);
    CHECK(filter.usage()->completion_tokens == 5);
  }
}

TEST_CASE("the usage chunk pdgate asked for is removed, and only it") {
  const std::string stream = ReadFixture("vllm_decode_stream_chat.sse");
  const std::string expected = WithoutUsageChunk(stream);
  for (size_t cut = 0; cut <= stream.size(); cut += 7) {
    router::SseFilter filter(/*drop_usage_chunk=*/true);
    REQUIRE(Run(filter, stream, cut) == expected);
    CHECK(filter.usage()->completion_tokens == 5);
  }
}

TEST_CASE("an engine's mid-stream error event is seen and forwarded") {
  const std::string stream = ReadFixture("vllm_stream_error_midway.sse");
  router::SseFilter filter(true);
  CHECK(Run(filter, stream, 100) == stream);
  CHECK(filter.saw_error());
  CHECK(filter.saw_done());
}

TEST_CASE("an event larger than the bound passes through without being held") {
  router::SseFilter filter(true, /*max_event_bytes=*/16);
  std::string big = "data: " + std::string(100, 'x') + "\n\ndata: [DONE]\n\n";
  std::string out;
  filter.Feed(std::string_view(big).substr(0, 60), out);
  CHECK(out.size() >= 60 - 0);  // the oversized prefix was forwarded, not held
  filter.Feed(std::string_view(big).substr(60), out);
  filter.Finish(out);
  CHECK(out == big);
  CHECK(filter.saw_done());
}

TEST_CASE("after an oversized event with CRLF line ends, events are cut and read again") {
  // Its blank line is "\r\n\r\n", cut between the reads at every point.
  const std::string big = "data: " + std::string(100, 'x') + "\r\n\r\n";
  const std::string usage_chunk =
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3}}\r\n\r\n";
  const std::string stream = big + usage_chunk + "data: [DONE]\r\n\r\n";
  for (size_t cut = 90; cut < big.size() + 4; ++cut) {
    router::SseFilter filter(true, /*max_event_bytes=*/16);
    std::string out = Run(filter, stream, cut);
    INFO("cut at " << cut);
    CHECK(out == big + "data: [DONE]\r\n\r\n");
    REQUIRE(filter.usage().has_value());
    CHECK(filter.usage()->prompt_tokens == 7);
    CHECK(filter.saw_done());
  }
}

TEST_CASE("usage: only a usage member with a value is read, wherever the word appears") {
  auto usage_of = [](const std::string& stream) {
    router::SseFilter filter(/*drop_usage_chunk=*/false);
    std::string out;
    for (char c : stream) filter.Feed(std::string_view(&c, 1), out);  // a byte per read
    filter.Finish(out);
    CHECK(out == stream);
    return filter.usage();
  };
  // vLLM's `"usage":null` in every chunk, spaced as a re-serializing proxy might.
  CHECK_FALSE(
      usage_of("data: {\"choices\":[{\"text\":\"a\"}],\"usage\" : null}\n\n"
               "data: {\"choices\":[{\"text\":\"b\"}],\"usage\":\r\n null}\n\n"));
  // The word as a value and as escaped text before the real member.
  auto usage = usage_of(
      "data: {\"choices\":[{\"text\":\"say \\\"usage\\\"\"}],\"note\":\"usage\","
      "\"usage\" : {\"prompt_tokens\":3,\"completion_tokens\":4}}\n\n");
  REQUIRE(usage.has_value());
  CHECK(usage->prompt_tokens == 3);
  CHECK(usage->completion_tokens == 4);
  // A nested null before the top-level value.
  usage = usage_of(
      "data: {\"choices\":[{\"delta\":{},\"usage\":null}],"
      "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n");
  REQUIRE(usage.has_value());
  CHECK(usage->completion_tokens == 6);
}
