#include "router/flow/sglang_flow.h"

#include <functional>

#include "discovery/uncaught.h"
#include "router/flow/endpoint_feedback.h"
#include "router/flow/legs.h"
#include "router/flow/sglang_abort.h"

namespace pdgate::router {
namespace {

struct SglangPrefillState {
  bool done = false;
  bool cancelled = false;  // the decode finished first; the prefill was closed on purpose
  std::optional<AttemptError> error;
};

// The prefill leg of an SGLang attempt, spawned beside the decode. It touches only what it owns
// or shares, since the attempt may be over when it resumes.
net::awaitable<void> RunSglangPrefill(Worker& worker, discovery::Endpoint endpoint,
                                      LegTarget target, LegRequest request,
                                      std::shared_ptr<DisconnectWatch> legs,
                                      Clock::time_point deadline, size_t limit,
                                      std::shared_ptr<SglangPrefillState> state,
                                      std::function<void()> on_failure, int64_t prefill_tokens) {
  InFlightLeg in_flight(endpoint, true, prefill_tokens);
  UpstreamLeg leg(worker.upstream(), std::move(target), legs);
  std::optional<http::response_parser<http::string_body>> parser;
  LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, true, limit);
  state->done = true;
  if (state->cancelled || legs->client_gone) co_return;
  if (!outcome.ok()) {
    state->error = FromOutcome("prefill", endpoint, outcome);
  } else if (parser->get().result_int() / 100 != 2) {
    state->error = FromStatus("prefill", endpoint, static_cast<int>(parser->get().result_int()),
                              parser->get().body());
  } else {
    if (parser->get().keep_alive()) leg.Release();
    co_return;
  }
  on_failure();
}

}  // namespace

net::awaitable<std::optional<AttemptError>> RunSglangAttempt(Flow& flow,
                                                             const discovery::Endpoint& prefill,
                                                             const discovery::Endpoint& decode) {
  std::optional<LegTarget> prefill_target = TargetOf(prefill);
  std::optional<LegTarget> decode_target = TargetOf(decode);
  if (!prefill_target || !decode_target) {
    co_return FromOutcome("prefill", prefill, {LegStatus::kConnectFailed, "bad address"});
  }
  // A fresh room and rid per attempt, so a retry never meets the failed attempt's state.
  const std::string rid = NewSglangRid(flow.worker.rng);
  const SglangBootstrap bootstrap{prefill.address, SglangBootstrapPort(prefill),
                                  flow.worker.rng() >> 1, rid};
  std::string prefill_body = BuildPrefillBody(flow.leg, config::KvConnector::kSglang, &bootstrap);
  std::string decode_body = BuildDecodeBody(flow.leg, "", flow.inject_usage, &bootstrap);

  auto legs = std::make_shared<DisconnectWatch>();
  Worker* worker = &flow.worker;
  auto abort = [worker, rid](const LegTarget& target) {
    net::co_spawn(worker->ioc, SendSglangAbort(*worker, target, rid),
                  ReportUncaught{SpawnSite::kSglangAbort});
  };
  // The client leaving closes this attempt's legs and aborts both on the engines.
  flow.watch->on_gone.push_back([legs, abort, p = *prefill_target, d = *decode_target] {
    legs->client_gone = true;
    legs->CloseLegs();
    abort(p);
    abort(d);
  });
  // A failed prefill aborts the decode at once instead of leaving it waiting for minutes.
  auto on_prefill_failure = [legs, abort, d = *decode_target] {
    legs->CloseLegs();
    abort(d);
  };
  auto state = std::make_shared<SglangPrefillState>();
  net::co_spawn(flow.worker.ioc,
                RunSglangPrefill(flow.worker, prefill, *prefill_target,
                                 MakeLegRequest(flow, prefill, std::move(prefill_body)), legs,
                                 Clock::now() + flow.LegTimeout(),
                                 flow.settings.limits.max_prefill_response_bytes, state,
                                 on_prefill_failure, flow.prefill_tokens),
                ReportUncaught{SpawnSite::kSglangPrefill});
  std::optional<AttemptError> error = co_await RunDecode(flow, decode, decode_body, "decode", legs);
  flow.watch->on_gone.clear();
  if (!state->done) {
    state->cancelled = true;
    legs->CloseLegs();
  }
  if (!flow.watch->client_gone && state->done) {
    ReportLegOutcome(flow, prefill, state->error ? &*state->error : nullptr);
  }
  // When the prefill failed, its failure is the cause of whatever the decode reports.
  if (state->error && !flow.committed) co_return state->error;
  co_return error;
}

}  // namespace pdgate::router
