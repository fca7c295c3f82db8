// The helpers of sim_requests.h.
#include "tests/engine_sim/sim_requests.h"

#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/response.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_harness.h"

namespace pdgate::sim::testing {

std::string ChatBody(const std::string& content, const std::string& extra,
                     const std::string& model) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":")" + content +
         R"("}])" + (extra.empty() ? "" : "," + extra) + "}";
}

std::string ExpectedChatText(const std::string& content, int max_tokens) {
  ResponseContext ctx;
  auto prompt = Tokenize(ApplyChatTemplate({{"user", content}}));
  ctx.key = MakeGenerationKey(prompt, 0);
  ctx.plan = PlanOutput(ctx.key, max_tokens, 0, false);
  return GeneratedText(ctx, ctx.plan.tokens);
}

std::string NonEarlyPrompt(const std::string& base) {
  for (int i = 0;; ++i) {
    std::string content = base + " " + std::to_string(i);
    auto key = MakeGenerationKey(Tokenize(ApplyChatTemplate({{"user", content}})), 0);
    if (NaturalLength(key) > 1) return content;
  }
}

std::string PrefillBody(const std::string& content, const std::string& model) {
  return ChatBody(content,
                  R"("max_tokens":1,"stream":false,"kv_transfer_params":{"do_remote_decode":true,)"
                  R"("do_remote_prefill":false,"remote_engine_id":null,"remote_block_ids":null,)"
                  R"("remote_host":null,"remote_port":null})",
                  model);
}

std::string Streamed(const std::string& sse_body) {
  std::string text;
  for (const auto& event : SseEvents(sse_body)) {
    if (event == "[DONE]") continue;
    if (auto piece = JsonString(event, "/choices/0/delta/content")) text += *piece;
  }
  return text;
}

std::string TokenArray(int n, int start) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + std::to_string(start + i);
  return out + "]";
}

}  // namespace pdgate::sim::testing
