#include "router/flow/legs.h"

#include <array>

#include "router/flow/decode_relay.h"
#include "router/flow/endpoint_feedback.h"
#include "router/http/parsed_read.h"

namespace pdgate::router {
namespace {

constexpr size_t kMaxErrorBodyBytes = size_t{64} * 1024;

// Reads what is left of an error response, bounded.
Task<std::string> ReadErrorBody(UpstreamLeg& leg, EngineResponseParser& parser) {
  std::string body;
  // std::array, not a C array: GCC 12 miscompiles C arrays held across co_await.
  std::array<char, 4096> buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  while (!parser.is_done() && body.size() < kMaxErrorBodyBytes) {
    parser.ReadInto(buffer.data(), buffer.size());
    auto [ec, n] = co_await ReadParsed(leg.stream(), leg.buffer(), parser, ReadUntil::kMessage);
    body.append(buffer.data(), parser.received());
    if (ec && ec != http::error::need_buffer) break;
  }
  co_return body;
}

// What a leg's end tells the observer and the endpoint's health.
void LegDone(RequestContext& context, std::string_view leg, const discovery::Endpoint& endpoint,
             Clock::time_point started, const AttemptError* error) {
  const bool counted = !context.watch->client_gone;
  context.observer.LegEnded(leg, endpoint, Clock::now() - started,
                            error ? error->label : LegOutcomeLabel::kOk, error ? error->status : 0,
                            counted);
  if (counted) ReportLegOutcome(context, endpoint, error);
}

}  // namespace

// The prefill leg, with its bookkeeping in the same coroutine (as RunDecode).
Task<PrefillResult> RunPrefill(RequestContext& context, const discovery::Endpoint& endpoint,
                               int64_t prefill_tokens) {
  const Clock::time_point started = Clock::now();
  PrefillResult result;
  {
    InFlightLeg in_flight(endpoint, true, prefill_tokens);
    std::optional<LegTarget> target = LegTargetOf(endpoint);
    if (!target) {
      result = FromOutcome("prefill", endpoint, {LegStatus::kConnectFailed, "bad address"});
    } else {
      UpstreamLeg leg(context.worker.upstream(), *target, context.watch);
      auto request = MakeLegRequest(context, endpoint,
                                    BuildPrefillBody(context.leg, context.server.kv_connector));
      std::optional<EngineResponseParser> parser;
      // The whole prefill leg runs under the timeout: its answer is one small JSON document.
      // Counted from the leg's start (microseconds earlier): one clock read less per leg.
      const Clock::time_point deadline = started + context.LegTimeout();
      LegOutcome outcome = co_await leg.Exchange(
          request, parser, deadline,
          /*whole_body=*/true, context.settings.limits.max_prefill_response_bytes);
      if (!outcome.ok()) {
        result = FromOutcome("prefill", endpoint, outcome);
      } else if (const int status = parser->status(); status / 100 != 2) {
        result = FromStatus("prefill", endpoint, status, parser->body());
      } else {
        const bool reusable = parser->keep_alive();
        std::string kv;
        if (context.server.kv_connector == config::KvConnector::kNixl ||
            context.server.kv_connector == config::KvConnector::kMooncake) {
          kv = ExtractKvTransferParams(parser->body());
        }
        if (reusable) leg.Release();
        result = std::move(kv);
      }
    }
  }
  LegDone(context, "prefill", endpoint, started, std::get_if<AttemptError>(&result));
  co_return result;
}

// Sends the decode leg (or an aggregated server's only leg); a 2xx answer is relayed. One
// coroutine for the leg and its bookkeeping: a frame and a resumption less per request.
Task<std::optional<AttemptError>> RunDecode(RequestContext& context,
                                            const discovery::Endpoint& endpoint,
                                            std::optional<std::string>& body,
                                            std::string_view leg_name,
                                            const std::shared_ptr<DisconnectWatch>& legs) {
  const Clock::time_point started = Clock::now();
  std::optional<AttemptError> error;
  {
    InFlightLeg in_flight(endpoint, false);
    std::optional<LegTarget> target = LegTargetOf(endpoint);
    if (!target) {
      error = FromOutcome(leg_name, endpoint, {LegStatus::kConnectFailed, "bad address"});
    } else {
      // The leg ends (its connection pooled or closed) before the in-flight count, as it did.
      UpstreamLeg leg(context.worker.upstream(), *target, legs);
      auto request = MakeLegRequest(context, endpoint, std::move(body));
      std::optional<EngineResponseParser> parser;
      const Clock::time_point deadline = started + context.LegTimeout();
      LegOutcome outcome =
          co_await leg.Exchange(request, parser, deadline, /*whole_body=*/false, /*body_limit=*/0);
      if (!outcome.ok()) {
        error = FromOutcome(leg_name, endpoint, outcome);
      } else if (const int status = parser->status(); status / 100 != 2) {
        std::string error_body = co_await ReadErrorBody(leg, *parser);
        error = FromStatus(leg_name, endpoint, status, error_body);
      } else {
        error = co_await RelayAnswer(context, leg, *parser, endpoint, leg_name);
      }
    }
  }
  LegDone(context, leg_name, endpoint, started, error ? &*error : nullptr);
  co_return error;
}

}  // namespace pdgate::router
