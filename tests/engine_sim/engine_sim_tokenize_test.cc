// Integration tests of the simulator's POST /tokenize (vLLM's shape, both engines): the ids are
// the ones the completions and chat endpoints use for the same prompt (their usage agrees), the
// generation prompt can be left out, errors have the OpenAI shape, and nothing is counted as a
// request.
#include <catch2/catch.hpp>
#include <string>

#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_harness.h"
#include "tests/engine_sim/sim_requests.h"

using namespace pdgate::sim;
using namespace pdgate::sim::testing;

namespace {

std::string IdList(const std::vector<TokenId>& ids) {
  std::string out = "[";
  for (TokenId id : ids) out += (out.size() > 1 ? "," : "") + std::to_string(id);
  return out + "]";
}

}  // namespace

TEST_CASE("tokenize: prompt and chat forms give the ids the generation endpoints use") {
  for (const std::string engine : {"vllm", "sglang"}) {
    INFO(engine);
    auto sim = StartSim(76, {"--engine", engine, "--time-scale", "0", "--max-model-len", "4096",
                             "--lora-modules", "adapter-a=/models/a"});
    const std::string text = "Once upon a time, in a cluster far away";
    auto [status, body] =
        sim.Post("/tokenize", R"({"model":"sim-model","prompt":")" + text + "\"}");
    REQUIRE(status == 200);
    CHECK(JsonValue(body, "/tokens") == IdList(Tokenize(text)));
    CHECK(JsonNumber(body, "/count") == Tokenize(text).size());
    CHECK(JsonNumber(body, "/max_model_len") == 4096);
    auto completion = sim.Post("/v1/completions", R"({"prompt":")" + text + R"(","max_tokens":1})");
    REQUIRE(completion.first == 200);
    CHECK(JsonNumber(completion.second, "/usage/prompt_tokens") == JsonNumber(body, "/count"));

    // Token ids come back as they are.
    auto ids = sim.Post("/tokenize", R"({"prompt":[7,8,9]})");
    REQUIRE(ids.first == 200);
    CHECK(JsonValue(ids.second, "/tokens") == "[7,8,9]");

    const std::string messages = R"([{"role":"system","content":"Be brief."},)"
                                 R"({"role":"user","content":"Where is the capital of China?"}])";
    const std::vector<ChatMessage> parsed = {{"system", "Be brief."},
                                             {"user", "Where is the capital of China?"}};
    auto chat = sim.Post("/tokenize", R"({"model":"adapter-a","messages":)" + messages + "}");
    REQUIRE(chat.first == 200);
    CHECK(JsonValue(chat.second, "/tokens") == IdList(Tokenize(ApplyChatTemplate(parsed))));
    auto generated =
        sim.Post("/v1/chat/completions", R"({"max_tokens":1,"messages":)" + messages + "}");
    REQUIRE(generated.first == 200);
    CHECK(JsonNumber(generated.second, "/usage/prompt_tokens") ==
          JsonNumber(chat.second, "/count"));

    // add_generation_prompt: false leaves "<|assistant|>\n" out, on /tokenize and on chat alike.
    auto bare =
        sim.Post("/tokenize", R"({"messages":)" + messages + R"(,"add_generation_prompt":false})");
    REQUIRE(bare.first == 200);
    CHECK(JsonValue(bare.second, "/tokens") == IdList(Tokenize(ApplyChatTemplate(parsed, false))));
    CHECK(JsonNumber(bare.second, "/count") < JsonNumber(chat.second, "/count"));
    auto bare_chat = sim.Post("/v1/chat/completions", R"({"max_tokens":1,"messages":)" + messages +
                                                          R"(,"add_generation_prompt":false})");
    REQUIRE(bare_chat.first == 200);
    CHECK(JsonNumber(bare_chat.second, "/usage/prompt_tokens") ==
          JsonNumber(bare.second, "/count"));
    auto explicit_true =
        sim.Post("/tokenize", R"({"messages":)" + messages + R"(,"add_generation_prompt":true})");
    CHECK(explicit_true.second == chat.second);
  }
}

TEST_CASE("tokenize: bad bodies are 400, unknown models 404, and no request is counted") {
  auto sim = StartSim(77, {"--time-scale", "0"});
  for (const char* bad :
       {"{", R"({"model":"sim-model"})",
        R"({"prompt":"a","messages":[{"role":"user","content":"b"}]})", R"({"prompt":5})",
        R"({"messages":"hi"})", R"({"messages":[]})", R"({"prompt":["a","b"]})",
        R"({"prompt":"a","add_generation_prompt":"yes"})"}) {
    INFO(bad);
    auto [status, body] = sim.Post("/tokenize", bad);
    CHECK(status == 400);
    CHECK(JsonNumber(body, "/error/code") == 400);
    CHECK(JsonString(body, "/error/type") == "BadRequestError");
    CHECK(JsonString(body, "/error/message").has_value());
  }
  auto [status, body] = sim.Post("/tokenize", R"({"model":"nope","prompt":"a"})");
  CHECK(status == 404);
  CHECK(JsonString(body, "/error/message") == "The model `nope` does not exist.");
  CHECK(JsonString(body, "/error/type") == "NotFoundError");
  CHECK(sim.Get("/tokenize").first == 405);
  REQUIRE(sim.Post("/tokenize", R"({"prompt":"fine"})").first == 200);
  CHECK(sim.Stat("/requests/plain") == 0);
  CHECK(sim.Stat("/requests/rejected") == 0);
  auto metrics = sim.Get("/metrics");
  CHECK(metrics.second.find("vllm:prompt_tokens_total{engine=\"0\",model_name=\"sim-model\"} 0") !=
        std::string::npos);
}
