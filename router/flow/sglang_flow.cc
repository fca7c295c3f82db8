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
  Clock::time_point ended;
  bool cancelled = false;  // the decode finished first; the prefill was closed on purpose
  std::optional<AttemptError> error;
};

// The prefill leg of an SGLang attempt, spawned beside the decode. It touches only what it owns
// or shares, since the attempt may be over when it resumes.
Task<void> RunSglangPrefill(Worker& worker, discovery::Endpoint endpoint, OwnedLegTarget target,
                            LegRequest request, std::shared_ptr<DisconnectWatch> legs,
                            Clock::time_point deadline, size_t limit,
                            std::shared_ptr<SglangPrefillState> state,
                            std::function<void()> on_failure, int64_t prefill_tokens) {
  InFlightLeg in_flight(endpoint, true, prefill_tokens);
  UpstreamLeg leg(worker.upstream(), target.view(), legs);
  std::optional<EngineResponseParser> parser;
  LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, true, limit);
  state->done = true;
  state->ended = Clock::now();
  if (state->cancelled || legs->client_gone) co_return;
  if (!outcome.ok()) {
    state->error = FromOutcome("prefill", endpoint, outcome);
  } else if (parser->status() / 100 != 2) {
    state->error = FromStatus("prefill", endpoint, parser->status(), parser->body());
  } else {
    if (parser->keep_alive()) leg.Release();
    co_return;
  }
  on_failure();
}

}  // namespace

Task<std::optional<AttemptError>> RunSglangAttempt(RequestContext& context,
                                                   const discovery::Endpoint& prefill,
                                                   const discovery::Endpoint& decode,
                                                   int64_t prefill_tokens) {
  std::optional<LegTarget> prefill_target = LegTargetOf(prefill);
  std::optional<LegTarget> decode_target = LegTargetOf(decode);
  if (!prefill_target || !decode_target) {
    co_return FromOutcome("prefill", prefill, {LegStatus::kConnectFailed, "bad address"});
  }
  // A fresh room and rid per attempt, so a retry never meets the failed attempt's state.
  const std::string rid = NewSglangRid(context.worker.rng);
  const SglangBootstrap bootstrap{prefill.address, SglangBootstrapPort(prefill),
                                  context.worker.rng() >> 1, rid};
  std::string prefill_body =
      BuildPrefillBody(context.leg, config::KvConnector::kSglang, &bootstrap);
  std::optional<std::string> decode_body =
      BuildDecodeBody(context.leg, "", context.inject_usage, &bootstrap);

  auto legs = std::make_shared<DisconnectWatch>();
  Worker* worker = &context.worker;
  auto abort = [worker, rid](const OwnedLegTarget& target) {
    net::co_spawn(worker->ioc, SendSglangAbort(*worker, target, rid),
                  ReportUncaught{SpawnSite::kSglangAbort});
  };
  // The client leaving closes this attempt's legs and aborts both on the engines.
  // (Owned copies: a failed prefill may abort the decode after the request is over.)
  const OwnedLegTarget owned_prefill(*prefill_target), owned_decode(*decode_target);
  context.watch->on_gone.push_back([legs, abort, p = owned_prefill, d = owned_decode] {
    legs->client_gone = true;
    legs->CloseLegs();
    abort(p);
    abort(d);
  });
  // A failed prefill aborts the decode at once instead of leaving it waiting for minutes.
  auto on_prefill_failure = [legs, abort, d = owned_decode] {
    legs->CloseLegs();
    abort(d);
  };
  auto state = std::make_shared<SglangPrefillState>();
  const Clock::time_point started = Clock::now();
  net::co_spawn(context.worker.ioc,
                RunSglangPrefill(context.worker, prefill, owned_prefill,
                                 MakeLegRequest(context, prefill, std::move(prefill_body)), legs,
                                 started + context.LegTimeout(),
                                 context.settings.limits.max_prefill_response_bytes, state,
                                 on_prefill_failure, prefill_tokens),
                ReportUncaught{SpawnSite::kSglangPrefill});
  std::optional<AttemptError> error =
      co_await RunDecode(context, decode, decode_body, "decode", legs);
  context.watch->on_gone.clear();
  if (!state->done) {
    state->cancelled = true;
    legs->CloseLegs();
  }
  // The prefill leg is recorded like the others once the decode is over (it may outlive the
  // attempt, so it cannot report itself). One still running was closed on purpose (the decode
  // it fed is over): it has no outcome to record.
  if (state->done) {
    const AttemptError* prefill_error = state->error ? &*state->error : nullptr;
    const bool counted = !context.watch->client_gone;
    context.observer.LegEnded("prefill", prefill, state->ended - started,
                              prefill_error ? prefill_error->label : LegOutcomeLabel::kOk,
                              prefill_error ? prefill_error->status : 0, counted);
    if (counted) ReportLegOutcome(context, prefill, prefill_error);
  }
  // When the prefill failed, its failure is the cause of whatever the decode reports.
  if (state->error && !context.writer.committed()) co_return state->error;
  co_return error;
}

}  // namespace pdgate::router
