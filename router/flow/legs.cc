#include "router/flow/legs.h"

#include <simdjson.h>

#include <array>
#include <optional>

#include "config/strings.h"
#include "router/flow/endpoint_feedback.h"
#include "router/http/relayed_response.h"
#include "router/openai/openai_error.h"
#include "router/openai/sse_filter.h"
#include "router/openai/usage_scanner.h"

namespace pdgate::router {
namespace {

constexpr size_t kRelayBufferBytes = size_t{16} * 1024;
constexpr size_t kMaxErrorBodyBytes = size_t{64} * 1024;

// The prefill's `kv_transfer_params` object, byte for byte; empty when absent or null (an early
// stop: legal, the decode recomputes).
std::string ExtractKvTransferParams(std::string& body) {
  body.reserve(body.size() + kJsonPadding);
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(body.data(), body.size(), body.capacity()).get(doc) ||
      doc.get_object().get(object)) {
    return {};
  }
  for (auto result : object) {
    simdjson::ondemand::field field;
    if (std::move(result).get(field)) return {};
    std::string_view key;
    if (field.unescaped_key().get(key)) return {};
    if (key != "kv_transfer_params") continue;
    simdjson::ondemand::value value = field.value();
    simdjson::ondemand::json_type type;
    if (value.type().get(type) || type != simdjson::ondemand::json_type::object) return {};
    std::string_view raw;
    if (simdjson::to_json_string(value).get(raw)) return {};
    return std::string(raw);
  }
  return {};
}

net::awaitable<PrefillResult> RunPrefillLeg(Flow& flow, const discovery::Endpoint& endpoint) {
  std::optional<LegTarget> target = TargetOf(endpoint);
  if (!target)
    co_return FromOutcome("prefill", endpoint, {LegStatus::kConnectFailed, "bad address"});
  UpstreamLeg leg(flow.worker.upstream(), std::move(*target), flow.watch);
  auto request =
      MakeLegRequest(flow, endpoint, BuildPrefillBody(flow.leg, flow.server->kv_connector));
  std::optional<http::response_parser<http::string_body>> parser;
  // The whole prefill leg runs under the timeout: its answer is one small JSON document.
  const Clock::time_point deadline = Clock::now() + flow.LegTimeout();
  LegOutcome outcome = co_await leg.Exchange(
      request, parser, deadline,
      /*whole_body=*/true, flow.settings.limits.max_prefill_response_bytes);
  if (!outcome.ok()) co_return FromOutcome("prefill", endpoint, outcome);
  auto& response = parser->get();
  const int status = static_cast<int>(response.result_int());
  if (status / 100 != 2) co_return FromStatus("prefill", endpoint, status, response.body());
  const bool reusable = response.keep_alive();
  std::string kv;
  if (flow.server->kv_connector == config::KvConnector::kNixl ||
      flow.server->kv_connector == config::KvConnector::kMooncake) {
    kv = ExtractKvTransferParams(response.body());
  }
  if (reusable) leg.Release();
  co_return kv;
}

// Reads what is left of an error response, bounded.
net::awaitable<std::string> ReadErrorBody(UpstreamLeg& leg,
                                          http::response_parser<http::buffer_body>& parser) {
  std::string body;
  // std::array, not a C array: GCC 12 miscompiles C arrays held across co_await.
  std::array<char, 4096> buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  while (!parser.is_done() && body.size() < kMaxErrorBodyBytes) {
    parser.get().body().data = buffer.data();
    parser.get().body().size = buffer.size();
    auto [ec, n] = co_await http::async_read(leg.stream(), leg.buffer(), parser, kTuple);
    body.append(buffer.data(), buffer.size() - parser.get().body().size);
    if (ec && ec != http::error::need_buffer) break;
  }
  co_return body;
}

bool IsEventStream(std::string_view content_type) {
  return content_type.substr(0, 17) == "text/event-stream";
}

// The decode leg (or the only leg of an aggregated server): sends, and once the engine answers
// 2xx, relays its body to the client chunk by chunk. Returns an error only while nothing has
// reached the client.
net::awaitable<std::optional<AttemptError>> RunDecodeLeg(
    Flow& flow, const discovery::Endpoint& endpoint, std::string& body, std::string_view leg_name,
    const std::shared_ptr<DisconnectWatch>& legs) {
  std::optional<LegTarget> target = TargetOf(endpoint);
  if (!target)
    co_return FromOutcome(leg_name, endpoint, {LegStatus::kConnectFailed, "bad address"});
  UpstreamLeg leg(flow.worker.upstream(), std::move(*target), legs);
  auto request = MakeLegRequest(flow, endpoint, std::move(body));
  std::optional<http::response_parser<http::buffer_body>> parser;
  const Clock::time_point deadline = Clock::now() + flow.LegTimeout();
  LegOutcome outcome =
      co_await leg.Exchange(request, parser, deadline, /*whole_body=*/false, /*body_limit=*/0);
  if (!outcome.ok()) co_return FromOutcome(leg_name, endpoint, outcome);
  const int status = static_cast<int>(parser->get().result_int());
  if (status / 100 != 2) {
    std::string error_body = co_await ReadErrorBody(leg, *parser);
    co_return FromStatus(leg_name, endpoint, status, error_body);
  }

  // The client's response header goes out with the first body bytes: one wake-up of the client
  // instead of two, and a decode that fails before any body byte can still be retried.
  const config::TimeoutSettings& timeouts = flow.settings.timeouts;
  auto& upstream = parser->get();
  const std::string content_type(upstream[http::field::content_type]);
  const bool event_stream = IsEventStream(content_type);
  RelayedResponse response(status);
  response.Set("Server", "pdgate");
  response.Set("Content-Type", content_type.empty() ? "application/json" : content_type);
  response.Set("x-request-id", flow.request_id);
  for (const auto& [name, value] : flow.limit_headers) response.Set(name, value);
  if (event_stream) response.Set("Cache-Control", "no-cache");
  response.KeepAlive(flow.keep_alive);
  if (!event_stream && upstream.has_content_length()) {
    response.ContentLength(parser->content_length().value_or(0));
  }
  auto write = [&](std::string_view data, bool more) -> net::awaitable<bool> {
    const Clock::time_point now = Clock::now();
    if (event_stream) {
      if (!flow.committed) {
        Observe(flow.model_metrics->ttft, std::chrono::duration<double>(now - flow.start).count());
      } else {
        Observe(flow.model_metrics->itl,
                std::chrono::duration<double>(now - flow.last_write).count());
      }
      if (flow.access.ttft_ms < 0) {
        flow.access.ttft_ms = std::chrono::duration<double, std::milli>(now - flow.start).count();
      }
    }
    flow.last_write = now;
    flow.committed = true;  // from the first byte on, the response belongs to the client
    flow.status_sent = status;
    flow.client.expires_after(timeouts.stream_idle);  // a reader that stops is cut off
    const bool last = !more;
    co_return co_await response.Write(flow.client, data, last);
  };

  std::optional<SseFilter> filter;
  // A non-streamed body is relayed untouched; its usage is read on the way.
  std::optional<UsageScanner> body_usage;
  if (event_stream) {
    filter.emplace(/*drop_usage_chunk=*/flow.inject_usage);
  } else {
    body_usage.emplace();
  }
  std::array<char, kRelayBufferBytes>
      buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  std::string filtered;
  std::string last;  // what goes out with the end of the response
  bool upstream_failed = false;
  while (!parser->is_done()) {
    upstream.body().data = buffer.data();
    upstream.body().size = buffer.size();
    leg.stream().expires_after(timeouts.stream_idle);  // idle between chunks, not one deadline
    // read_some, not read: read would wait until the buffer is full, batching a stream's events.
    auto [ec, n] = co_await http::async_read_some(leg.stream(), leg.buffer(), *parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = buffer.size() - upstream.body().size;
    std::string_view data(buffer.data(), got);
    if (body_usage) body_usage->Feed(data);
    if (filter && got > 0) {
      filtered.clear();
      filter->Feed(data, filtered);
      data = filtered;
    }
    if (ec || parser->is_done()) {
      last.assign(data);
      upstream_failed = bool(ec);
      break;
    }
    if (!data.empty() && !co_await write(data, true)) {
      flow.keep_alive = false;
      co_return std::nullopt;  // client gone: the leg is closed, the engine aborts
    }
  }
  if (flow.watch->client_gone) {
    flow.keep_alive = false;
    co_return std::nullopt;
  }
  if (filter) filter->Finish(last);
  const std::optional<Usage>& usage = filter ? filter->usage() : body_usage->usage();
  if (usage) {
    Increment(flow.model_metrics->prompt_tokens, double(usage->prompt_tokens));
    Increment(flow.model_metrics->completion_tokens, double(usage->completion_tokens));
    flow.access.input_tokens = usage->prompt_tokens;
    flow.access.output_tokens = usage->completion_tokens;
  }
  if (upstream_failed) {
    if (!flow.committed) {
      // Nothing reached the client yet: as good as a failure before the response.
      co_return FromOutcome(leg_name, endpoint,
                            {LegStatus::kTransport, "response body broken before any byte"});
    }
    flow.keep_alive = false;
    // Mid-stream failure: one error event and [DONE], never a retry (bytes were sent).
    if (event_stream && !(filter && filter->saw_done())) {
      last +=
          ErrorEvent({502, StrCat("The decode engine ", Describe(endpoint), " failed mid-stream."),
                      "", "", ""});
    }
    co_await write(last, false);
    co_return std::nullopt;
  }
  // The last write answers the request: stop watching the client first, or the next pipelined
  // request arriving would wake the watch for nothing.
  beast::error_code ignored;
  flow.client.socket().cancel(ignored);
  if (!co_await write(last, false)) {
    flow.keep_alive = false;
    co_return std::nullopt;
  }
  if (upstream.keep_alive()) leg.Release();
  co_return std::nullopt;
}

// What the access log keeps of a leg: its endpoint, duration and answer.
void NoteLeg(Flow& flow, std::string_view leg, const discovery::Endpoint& endpoint,
             Clock::time_point started, const AttemptError* error) {
  AccessRecord& access = flow.access;
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  if (leg == "prefill") {
    access.prefill = endpoint.pod;
    access.prefill_ms = ms;
    Observe(flow.model_metrics->prefill_leg, ms / 1000);
  } else {
    access.decode = endpoint.pod;
    access.decode_ms = ms;
    Observe(flow.model_metrics->decode_leg, ms / 1000);
  }
  if (!access.upstream_statuses.empty()) access.upstream_statuses += ",";
  StrAppend(access.upstream_statuses, leg, ":",
            error == nullptr ? std::string("200")
            : error->status != 0
                ? StrCat(error->status)
                : std::string(error->label == LegOutcomeLabel::kTimeout         ? "timeout"
                              : error->label == LegOutcomeLabel::kConnectFailed ? "connect_failed"
                                                                                : "transport"));
}

}  // namespace

// The legs, counted in pdgate_upstream_requests_total by endpoint, role and outcome.
net::awaitable<PrefillResult> RunPrefill(Flow& flow, const discovery::Endpoint& endpoint) {
  const Clock::time_point started = Clock::now();
  PrefillResult result;
  {
    InFlightLeg in_flight(endpoint, true, flow.prefill_tokens);
    result = co_await RunPrefillLeg(flow, endpoint);
  }
  const auto* error = std::get_if<AttemptError>(&result);
  NoteLeg(flow, "prefill", endpoint, started, error);
  if (!flow.watch->client_gone) {
    flow.RecordLeg(endpoint, error ? error->label : LegOutcomeLabel::kOk);
    ReportLegOutcome(flow, endpoint, error);
  }
  co_return result;
}

net::awaitable<std::optional<AttemptError>> RunDecode(
    Flow& flow, const discovery::Endpoint& endpoint, std::string& body, std::string_view leg_name,
    const std::shared_ptr<DisconnectWatch>& legs) {
  const Clock::time_point started = Clock::now();
  std::optional<AttemptError> error;
  {
    InFlightLeg in_flight(endpoint, false);
    error = co_await RunDecodeLeg(flow, endpoint, body, leg_name, legs);
  }
  NoteLeg(flow, leg_name, endpoint, started, error ? &*error : nullptr);
  if (!flow.watch->client_gone) {
    flow.RecordLeg(endpoint, error ? error->label : LegOutcomeLabel::kOk);
    ReportLegOutcome(flow, endpoint, error ? &*error : nullptr);
  }
  co_return error;
}

}  // namespace pdgate::router
