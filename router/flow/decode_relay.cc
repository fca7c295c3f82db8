#include "router/flow/decode_relay.h"

#include <array>
#include <cstring>

#include "base/strings.h"
#include "router/http/parsed_read.h"
#include "router/openai/openai_error.h"
#include "router/openai/sse_filter.h"
#include "router/openai/usage_scanner.h"

namespace pdgate::router {
namespace {

// On the coroutine's frame, so one per routed stream. A read brings at most what the leg's read
// buffer holds (UpstreamLeg::kReadBufferBytes), so a larger array would stay unused.
constexpr size_t kRelayBufferBytes = UpstreamLeg::kReadBufferBytes;

bool IsEventStream(std::string_view content_type) {
  return content_type.substr(0, 17) == "text/event-stream";
}

}  // namespace

Task<std::optional<AttemptError>> RelayAnswer(RequestContext& context, UpstreamLeg& leg,
                                              EngineResponseParser& parser,
                                              const discovery::Endpoint& endpoint,
                                              std::string_view leg_name) {
  // The client's response header goes out with the first body bytes: one wake-up of the client
  // instead of two, and a decode that fails before any body byte can still be retried.
  DownstreamWriter& writer = context.writer;
  const Clock::duration idle = context.settings.timeouts.stream_idle;
  const std::string_view content_type = parser.content_type();
  const bool event_stream = IsEventStream(content_type);
  RelayedResponse response(parser.status());
  response.Add("Server: pdgate\r\n");
  if (content_type.empty() || content_type == "application/json") {  // the usual: one append
    response.Add("Content-Type: application/json\r\n");
  } else {
    response.Set("Content-Type", content_type);
  }
  for (const auto& [name, value] : writer.headers()) response.SetChecked(name, value);
  if (event_stream) response.Add("Cache-Control: no-cache\r\n");
  response.KeepAlive(writer.keep_alive());
  if (const auto length = parser.content_length(); length && !event_stream) {
    response.ContentLength(*length);
  }

  std::optional<SseFilter> filter;
  // A non-streamed body is relayed untouched; its usage is read on the way.
  std::optional<UsageScanner> body_usage;
  if (event_stream) {
    filter.emplace(/*drop_usage_chunk=*/context.inject_usage);
  } else {
    body_usage.emplace();
  }
  std::array<char, kRelayBufferBytes>
      buffer;  // NOLINT(cppcoreguidelines-pro-type-member-init): read into first
  std::string filtered;
  // What goes out with the end of the response: the last bytes read, in place, unless the filter's
  // finish or an error event adds to them (then in last_text).
  std::string_view last;
  std::string last_text;
  bool upstream_failed = false;
  bool first_read = true;
  while (!parser.is_done()) {
    parser.ReadInto(buffer.data(), buffer.size());
    leg.stream().expires_after(idle);  // idle between chunks, not one deadline
    // read_some, not read: read would wait until the buffer is full, batching a stream's events.
    // A short answer's body is already in the leg's buffer, behind the head: parsed in place.
    ParsedRead read;
    if (std::optional<ParsedRead> buffered =
            ParseBuffered(leg.buffer(), parser, ReadUntil::kSome)) {
      read = *buffered;
    } else {
      read = co_await ReadParsed(leg.stream(), leg.buffer(), parser, ReadUntil::kSome);
    }
    beast::error_code ec = read.first;
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = parser.received();
    std::string_view data(buffer.data(), got);
    if (body_usage) {
      // A short answer comes whole in one read, with the rest of the buffer as padding.
      if (first_read && parser.is_done() && !ec && got + kJsonPadding <= buffer.size()) {
        // simdjson may read the padding: bytes of ours, not never-written memory.
        std::memset(buffer.data() + got, 0, kJsonPadding);
        body_usage->FeedWhole(data, buffer.size());
      } else {
        body_usage->Feed(data);
      }
    }
    first_read = false;
    if (filter && got > 0) {
      filtered.clear();
      filter->Feed(data, filtered);
      data = filtered;
    }
    if (ec || parser.is_done()) {
      last = data;
      upstream_failed = bool(ec);
      break;
    }
    if (!data.empty()) {
      std::optional<bool> sent = writer.Relay(response, data, false, event_stream, idle);
      if (!sent) sent = co_await writer.RelayRest();
      if (!*sent) co_return std::nullopt;  // client gone: the leg is closed, the engine aborts
    }
  }
  if (context.watch->client_gone) {
    writer.Close();
    co_return std::nullopt;
  }
  if (filter) {
    last_text.assign(last);
    filter->Finish(last_text);
    last = last_text;
  }
  const std::optional<Usage>& usage = filter ? filter->usage() : body_usage->usage();
  if (usage) context.observer.CountUsage(*usage);
  if (upstream_failed) {
    if (!writer.committed()) {
      // Nothing reached the client yet: as good as a failure before the response.
      co_return FromOutcome(leg_name, endpoint,
                            {LegStatus::kTransport, "response body broken before any byte"});
    }
    writer.Close();
    // Mid-stream failure: one error event and [DONE], never a retry (bytes were sent).
    if (event_stream && !(filter && filter->saw_done())) {
      last_text +=  // an event stream has the filter: last_text holds `last`
          ErrorEvent({502, StrCat("The decode engine ", Describe(endpoint), " failed mid-stream."),
                      "", "", ""});
      last = last_text;
    }
    if (!writer.Relay(response, last, true, event_stream, idle)) co_await writer.RelayRest();
    co_return std::nullopt;
  }
  // The last write answers the request: stop watching the client first, or the next pipelined
  // request arriving would wake the watch for nothing.
  writer.StopWatching();
  std::optional<bool> sent = writer.Relay(response, last, true, event_stream, idle);
  if (!sent) sent = co_await writer.RelayRest();
  if (!*sent) co_return std::nullopt;
  if (parser.keep_alive()) leg.Release();
  co_return std::nullopt;
}

}  // namespace pdgate::router
