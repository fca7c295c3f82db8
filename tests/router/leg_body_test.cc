// Leg bodies are spliced from the client's bytes: the prompt arrives at the engine untouched.
#include "router/openai/leg_body.h"

#include <catch2/catch.hpp>
#include <vector>

#include "router/openai/json_text.h"
#include "tests/router/router_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;
using config::KvConnector;

namespace {

struct Built {
  PaddedBody body;
  router::OpenAIRequest request;
  router::LegContext leg;
};

Built Make(const std::string& text, const std::string& model = "") {
  Built b{PaddedBody(text), {}, {}};
  auto parsed = b.body.Parse();
  REQUIRE(parsed.ok());
  b.request = *parsed;
  b.leg = {b.body.view(), &b.request, model.empty() ? "" : router::JsonString(model)};
  return b;
}

const std::string kClient =
    R"({"model":"public","messages":[{"role":"user","content":"Where is the capital of China?\u00e9"}],)"
    R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"min_tokens":4,)"
    R"("kv_transfer_params":{"remote_host":"evil"},"temperature":0})";

}  // namespace

TEST_CASE("nixl prefill: non-streaming, one token, skeleton params, prompt bytes as sent") {
  Built b = Make(kClient, "deepseek-ai/DeepSeekV2");
  std::string body = router::BuildPrefillBody(b.leg, KvConnector::kNixl);
  CHECK(
      body ==
      R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"Where is the capital of China?\u00e9"}],)"
      R"("stream":false,"max_tokens":1,)"
      R"("kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
      R"("remote_block_ids":null,"remote_host":null,"remote_port":null},"temperature":0})");
}

TEST_CASE("mooncake prefill adds min_tokens 1, lmcache and http add no params") {
  Built b = Make(R"({"model":"m","prompt":"hi","max_completion_tokens":9})");
  CHECK(
      router::BuildPrefillBody(b.leg, KvConnector::kMooncake) ==
      R"({"model":"m","prompt":"hi","max_completion_tokens":1,"stream":false,"max_tokens":1,"min_tokens":1,)"
      R"("kv_transfer_params":{"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
      R"("remote_block_ids":null,"remote_host":null,"remote_port":null}})");
  CHECK(router::BuildPrefillBody(b.leg, KvConnector::kLmcache) ==
        R"({"model":"m","prompt":"hi","max_completion_tokens":1,"stream":false,"max_tokens":1})");
}

// The client's own kv_transfer_params is replaced in place by the prefill's.
TEST_CASE("decode: the client's body plus the prefill's params byte for byte") {
  Built b = Make(kClient);
  const std::string params = ReadFixture("vllm_prefill_response.json");
  const std::string kv = params.substr(params.find(R"({"do_remote_prefill")"));
  const std::string kv_object = kv.substr(0, kv.size() - 1);  // without the response's closing }
  std::string body = router::BuildDecodeBody(b.leg, kv_object, /*inject_usage=*/false);
  CHECK(
      body ==
      R"({"model":"public","messages":[{"role":"user","content":"Where is the capital of China?\u00e9"}],)"
      R"("stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"min_tokens":4,)"
      R"("kv_transfer_params":)" +
          kv_object + R"(,"temperature":0})");
}

TEST_CASE("decode asks for usage when the client did not, keeping continuous stats") {
  Built b = Make(
      R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":false,"continuous_usage_stats":true}})");
  CHECK(
      router::BuildDecodeBody(b.leg, "", true) ==
      R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true}})");
  Built plain = Make(R"({"model":"m","prompt":"p","stream":true})");
  CHECK(router::BuildDecodeBody(plain.leg, "", true) ==
        R"({"model":"m","prompt":"p","stream":true,"stream_options":{"include_usage":true}})");
}

TEST_CASE("a decode body that would change nothing but blanks is the client's, as it came") {
  Built plain = Make(R"( {"model" : "m", "prompt":"p", "stream":false, "n":1} )");
  CHECK_FALSE(router::DecodeBodyUnlessClients(plain.leg, "", false).has_value());
  // Anything to change builds the body as BuildDecodeBody does.
  CHECK(router::DecodeBodyUnlessClients(plain.leg, "", true) ==
        router::BuildDecodeBody(plain.leg, "", true));
  CHECK(router::DecodeBodyUnlessClients(plain.leg, R"({"a":1})", false) ==
        R"({"model" : "m","prompt":"p","stream":false,"n":1,"kv_transfer_params":{"a":1}})");
  Built renamed = Make(R"({"model":"m","prompt":"p"})", "served-name");
  CHECK(router::DecodeBodyUnlessClients(renamed.leg, "", false) ==
        R"({"model":"served-name","prompt":"p"})");
  // A router-owned key the client sent is never passed on.
  for (const char* owned :
       {R"("kv_transfer_params":{"remote_host":"evil"})", R"("bootstrap_host":"169.254.169.254")",
        R"("bootstrap_port":1)", R"("bootstrap_room":2)", R"("rid":"x")"}) {
    Built sent = Make(std::string(R"({"model":"m","prompt":"p",)") + owned + "}");
    CHECK(router::DecodeBodyUnlessClients(sent.leg, "", false) == R"({"model":"m","prompt":"p"})");
  }
}

TEST_CASE("sglang legs carry the bootstrap trio and the router's rid, never the client's") {
  Built b = Make(R"({"model":"m","prompt":"p","bootstrap_host":"169.254.169.254","rid":"x"})");
  router::SglangBootstrap bootstrap{"10.0.0.7", 8998, 5837461092837465123ull, "pdgate-1"};
  CHECK(
      router::BuildDecodeBody(b.leg, "", false, &bootstrap) ==
      R"({"model":"m","prompt":"p","bootstrap_host":"10.0.0.7","rid":"pdgate-1","bootstrap_port":8998,)"
      R"("bootstrap_room":5837461092837465123})");
}

TEST_CASE("JSON strings are escaped") {
  CHECK(router::JsonString("a\"b\\c\n\x01") == R"("a\"b\\c\n\u0001")");
}

TEST_CASE("a prefill's kv_transfer_params are taken byte for byte, and only an object counts") {
  // vLLM's NixlConnector answer (shape from shared/research): the object may hold nested arrays
  // and escapes, which the decode leg must receive exactly as the prefill sent them.
  const std::string params =
      R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[1, 2,3],)"
      R"("remote_engine_id":"e\u0031","remote_host":"10.0.0.7","remote_port":5600,"tp_size":1})";
  std::string answer = R"({"id":"cmpl-1","object":"text_completion","choices":[{"index":0,)"
                       R"("text":"x","finish_reason":"length"}],"kv_transfer_params":)" +
                       params + R"(,"usage":{"prompt_tokens":5,"completion_tokens":1}})";
  CHECK(router::ExtractKvTransferParams(answer) == params);

  // An early stop answers null: legal, the decode recomputes. Anything but an object is none.
  for (std::string other : std::vector<std::string>{
           R"({"kv_transfer_params":null})", R"({"kv_transfer_params":[1]})", R"({"choices":[]})",
           R"([{"kv_transfer_params":{}}])", R"({"kv_tr)", "",
           // Found where the key is written, but not the root's member: none.
           R"({"a":{"kv_transfer_params":{"x":1}}})",
           R"({"t":"\"kv_transfer_params\":{\"x\":1}"})"}) {
    INFO(other);
    CHECK(router::ExtractKvTransferParams(other).empty());
  }

  // Recorded vLLM prefill answers: the params object's own bytes; the early stop's null.
  std::string recorded = ReadFixture("vllm_prefill_response.json");
  const size_t at = recorded.find(R"("kv_transfer_params":)") + 21;
  const std::string expected = recorded.substr(at, recorded.rfind('}') - at);
  REQUIRE(expected.starts_with(R"({"do_remote_prefill":true)"));
  CHECK(router::ExtractKvTransferParams(recorded) == expected);
  std::string early_stop = ReadFixture("vllm_prefill_response_early_stop.json");
  CHECK(router::ExtractKvTransferParams(early_stop).empty());

  // The root's member after a nested one of the same name, with brackets and quotes in strings
  // around it, blanks, and a key that ends in an escaped quote.
  const std::string inner = R"({"remote_host":"h}]\"{","remote_block_ids":[1,[2],{"a":[]}]})";
  std::string tricky = R"({"x\"kv_transfer_params":{"no":1},"choices":[{"kv_transfer_params":)"
                       R"({"nested":true}}],"kv_transfer_params" :)"
                       "\n " +
                       inner +
                       R"(,"usage":{"prompt_tokens":5}} )"
                       "\n";
  CHECK(router::ExtractKvTransferParams(tricky) == inner);
}
