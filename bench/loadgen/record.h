#pragma once
// What the client observed for one request. Times are seconds since the start of the measured
// phase (steady clock), so records from one run compare directly.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::loadgen {

// Failure classes: a non-2xx status, the per-request deadline, the connection (connect, reset,
// EOF before the end), a stream or body we could not parse (or one without its end), and an
// error event sent after the stream had started (status 200, vLLM's mid-stream failure shape).
enum class Failure { kNone, kStatus, kTimeout, kConnection, kMalformed, kStreamError };
std::string_view FailureName(Failure failure);

struct RequestRecord {
  double send_s = 0;
  double first_token_s = -1;  // first event carrying content; -1 when none came
  double end_s = 0;
  std::vector<double> token_s;  // arrival of each content-carrying event (the first included)
  int status = 0;
  Failure failure = Failure::kNone;
  std::string error;           // a short description when failed
  int64_t prompt_tokens = -1;  // from usage; -1 when the server sent none
  int64_t completion_tokens = -1;
  int64_t cached_tokens = 0;
  int64_t expected_prompt_tokens = 0;  // the dataset's estimate (used when usage is missing)
  int64_t expected_output_tokens = 0;

  bool ok() const { return failure == Failure::kNone; }
  double LatencyS() const { return end_s - send_s; }
  double TtftS() const { return first_token_s - send_s; }
  // Output tokens: usage when present, else the number of content events (one token each).
  int64_t OutputTokens() const {
    return completion_tokens >= 0 ? completion_tokens : static_cast<int64_t>(token_s.size());
  }
  int64_t InputTokens() const {
    return prompt_tokens >= 0 ? prompt_tokens : expected_prompt_tokens;
  }
};

}  // namespace pdgate::loadgen
