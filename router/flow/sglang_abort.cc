#include "router/flow/sglang_abort.h"

#include <absl/strings/numbers.h>

#include "router/openai/json_text.h"

namespace pdgate::router {

std::string NewSglangRid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string rid = "pdgate-";
  for (int word = 0; word < 2; ++word) {
    const uint64_t value = rng();
    for (int i = 15; i >= 0; --i) rid.push_back(kHex[(value >> (i * 4)) & 0xf]);
  }
  return rid;
}

int SglangBootstrapPort(const discovery::Endpoint& prefill) {
  constexpr int kDefault = 8998;
  if (prefill.source == nullptr) return kDefault;
  auto it = prefill.source->meta.annotations.find("pdgate.io/sglang-bootstrap-port");
  int port = 0;
  if (it == prefill.source->meta.annotations.end() || !absl::SimpleAtoi(it->second, &port) ||
      port < 1 || port > 65535) {
    return kDefault;
  }
  return port;
}

Task<void> SendSglangAbort(Worker& worker, OwnedLegTarget target, std::string rid) {
  auto watch = std::make_shared<DisconnectWatch>();
  UpstreamLeg leg(worker.upstream(), target.view(), watch);
  LegRequest request("/abort_request", target.key);
  request.Add("Content-Type: application/json\r\n");
  request.SetBody("{\"rid\":" + JsonString(rid) + "}");
  std::optional<EngineResponseParser> parser;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, true, size_t{64} * 1024);
  (void)outcome;  // nothing more can be done: the engine's own timeout remains the backstop
}

}  // namespace pdgate::router
