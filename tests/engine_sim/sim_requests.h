#pragma once
// Request bodies and expected outputs shared by the sim's integration tests
// (engine_sim_test.cc, engine_sim_api_test.cc, engine_sim_runtime_test.cc).
#include <string>

namespace pdgate::sim::testing {

inline constexpr const char* kFast = "0.01";  // --time-scale for tests that do not measure time

std::string ChatBody(const std::string& content, const std::string& extra,
                     const std::string& model = "sim-model");
// What the sim must generate for a chat prompt (the deterministic function of prompt and seed).
std::string ExpectedChatText(const std::string& content, int max_tokens);
// A prompt whose output does not stop at once (so a prefill leg ends with "length").
std::string NonEarlyPrompt(const std::string& base);
// A vLLM prefill leg's chat body (do_remote_decode, max_tokens 1, not streamed).
std::string PrefillBody(const std::string& content, const std::string& model = "sim-model");
// The text of a streamed chat response's deltas.
std::string Streamed(const std::string& sse_body);
// A JSON array of n token ids from `start` on.
std::string TokenArray(int n, int start);

}  // namespace pdgate::sim::testing
