#include "bench/loadgen/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <memory>

#include "bench/loadgen/arrivals.h"
#include "bench/loadgen/response_parse.h"
#include "base/strings.h"

namespace pdgate::loadgen {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
inline constexpr auto kTuple = net::as_tuple(net::use_awaitable);

struct Connection {
  explicit Connection(net::io_context& io) : stream(io) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::vector<char> body = std::vector<char>(16 * 1024);
  bool connected = false;
  void Close() {
    beast::error_code ignored;
    stream.socket().close(ignored);
    connected = false;
  }
};

// Shared state of one phase (warm-up or measured).
struct Phase {
  Phase(net::io_context& io_context, const LoadOptions& load, const std::vector<std::string>& w,
        const std::vector<Prompt>& p, tcp::endpoint e)
      : io(io_context), options(load), wires(w), prompts(p), endpoint(std::move(e)) {}
  net::io_context& io;
  const LoadOptions& options;
  const std::vector<std::string>& wires;
  const std::vector<Prompt>& prompts;
  tcp::endpoint endpoint;
  Clock::time_point t0;
  size_t count = 0;  // requests to send (0: until duration)
  double duration_s = 0;
  size_t next = 0;
  std::deque<RequestRecord> records;
  size_t finished = 0;
  // Open loop.
  std::vector<std::unique_ptr<Connection>>* pool = nullptr;
  std::vector<Connection*> idle;
  int in_flight = 0;
  std::unique_ptr<net::steady_timer> slot_free;

  double Since() const { return std::chrono::duration<double>(Clock::now() - t0).count(); }
  // The next request's index, or nullopt when the phase has sent everything.
  std::optional<size_t> Next(double at_s) {
    if (count > 0 ? next >= count : at_s >= duration_s) return std::nullopt;
    return next++;
  }
};

void Fail(RequestRecord& rec, const Phase& phase, Failure failure, std::string error) {
  rec.failure = failure;
  rec.error = std::move(error);
  rec.end_s = phase.Since();
}

Failure FromError(const beast::error_code& ec) {
  return ec == beast::error::timeout ? Failure::kTimeout : Failure::kConnection;
}

net::awaitable<void> DoRequest(Phase& phase, Connection& c, size_t index, RequestRecord& rec) {
  const Prompt& prompt = phase.prompts[index % phase.prompts.size()];
  const std::string& wire = phase.wires[index % phase.wires.size()];
  rec.expected_prompt_tokens = prompt.prompt_tokens;
  rec.expected_output_tokens = prompt.output_tokens;
  rec.send_s = phase.Since();
  c.stream.expires_after(std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(phase.options.timeout_s)));
  if (!c.connected) {
    auto [ec] = co_await c.stream.async_connect(phase.endpoint, kTuple);
    if (ec) {
      c.Close();
      Fail(rec, phase, FromError(ec), StrCat("connect: ", ec.message()));
      co_return;
    }
    c.connected = true;
    c.buffer.clear();
    beast::error_code ignored;
    c.stream.socket().set_option(tcp::no_delay(true), ignored);
  }
  net::const_buffer out(wire.data(), wire.size());
  auto [wec, written] = co_await net::async_write(c.stream, out, kTuple);
  if (wec) {
    c.Close();
    Fail(rec, phase, FromError(wec), StrCat("write: ", wec.message()));
    co_return;
  }
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  auto [hec, hn] = co_await http::async_read_header(c.stream, c.buffer, parser, kTuple);
  if (hec) {
    c.Close();
    Fail(rec, phase, FromError(hec), StrCat("read header: ", hec.message()));
    co_return;
  }
  rec.status = static_cast<int>(parser.get().result_int());
  const bool ok_status = rec.status / 100 == 2;
  const bool event_stream =
      parser.get()[http::field::content_type].substr(0, 17) == "text/event-stream";
  SseParser sse;
  std::vector<std::string> events;
  std::string body;
  bool done = false;
  Failure failure = Failure::kNone;
  std::string error;
  while (!parser.is_done()) {
    parser.get().body().data = c.body.data();
    parser.get().body().size = c.body.size();
    auto [ec, n] = co_await http::async_read_some(c.stream, c.buffer, parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    const double now = phase.Since();
    const size_t got = c.body.size() - parser.get().body().size;
    std::string_view data(c.body.data(), got);
    if (event_stream && ok_status && got > 0) {
      sse.Feed(data, events);
      for (const std::string& event : events) {
        if (done || failure != Failure::kNone) break;
        if (event == "[DONE]") {
          done = true;
          continue;
        }
        const ChunkInfo info = InspectChunk(event);
        if (!info.parsed) {
          failure = Failure::kMalformed;
          error = StrCat("unparseable event: ", event.substr(0, 200));
        } else if (info.is_error) {
          failure = Failure::kStreamError;
          error = event.substr(0, 500);
        } else {
          if (info.has_content) rec.token_s.push_back(now);
          if (info.usage) {
            rec.prompt_tokens = info.usage->prompt_tokens;
            rec.completion_tokens = info.usage->completion_tokens;
            rec.cached_tokens = info.usage->cached_tokens;
          }
        }
      }
    } else if (body.size() < (64u << 20)) {
      body.append(data);
    }
    if (ec) {
      c.Close();
      Fail(rec, phase, FromError(ec), StrCat("read body: ", ec.message()));
      co_return;
    }
  }
  rec.end_s = phase.Since();
  if (!parser.keep_alive()) c.Close();
  if (!rec.token_s.empty()) rec.first_token_s = rec.token_s.front();
  if (!ok_status) {
    rec.failure = Failure::kStatus;
    rec.error = StrCat("HTTP ", rec.status, ": ", std::string_view(body).substr(0, 300));
  } else if (event_stream) {
    if (failure == Failure::kNone && !done) {
      failure = Failure::kMalformed;
      error = "stream ended without data: [DONE]";
    }
    rec.failure = failure;
    rec.error = std::move(error);
  } else {
    const ChunkInfo info = InspectChunk(body);
    if (!info.parsed || !info.has_choices) {
      rec.failure = info.is_error ? Failure::kStreamError : Failure::kMalformed;
      rec.error = StrCat("bad body: ", std::string_view(body).substr(0, 300));
    } else if (info.usage) {
      rec.prompt_tokens = info.usage->prompt_tokens;
      rec.completion_tokens = info.usage->completion_tokens;
      rec.cached_tokens = info.usage->cached_tokens;
    }
  }
}

void ShowProgress(const Phase& phase, bool final) {
  if (!phase.options.progress) return;
  if (!final && phase.finished % 256 != 0) return;
  if (phase.count > 0) {
    const size_t width = 40;
    const size_t filled = width * phase.finished / phase.count;
    std::fprintf(stderr, "\r[%s%s] %zu/%zu %.1fs", std::string(filled, '#').c_str(),
                 std::string(width - filled, ' ').c_str(), phase.finished, phase.count,
                 phase.Since());
  } else {
    std::fprintf(stderr, "\r%zu requests %.1f/%.0fs", phase.finished, phase.Since(),
                 phase.duration_s);
  }
  if (final) std::fputc('\n', stderr);
}

net::awaitable<void> ClosedWorker(Phase& phase, Connection& c) {
  while (true) {
    std::optional<size_t> index = phase.Next(phase.Since());
    if (!index) break;
    RequestRecord& rec = phase.records.emplace_back();
    co_await DoRequest(phase, c, *index, rec);
    ++phase.finished;
    ShowProgress(phase, false);
  }
}

net::awaitable<void> OpenRequest(Phase& phase, Connection& c, size_t index, RequestRecord& rec) {
  co_await DoRequest(phase, c, index, rec);
  ++phase.finished;
  ShowProgress(phase, false);
  --phase.in_flight;
  phase.idle.push_back(&c);
  phase.slot_free->cancel();
}

net::awaitable<void> Dispatcher(Phase& phase, uint64_t seed) {
  Arrivals arrivals(phase.options.request_rate, phase.options.burstiness, seed);
  net::steady_timer timer(phase.io);
  while (true) {
    const double at = arrivals.Next();
    std::optional<size_t> index = phase.Next(at);
    if (!index) break;
    timer.expires_at(
        phase.t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(at)));
    auto [ec] = co_await timer.async_wait(kTuple);
    (void)ec;  // only cancelled at shutdown; sending on time is all that matters
    while (phase.options.concurrency > 0 && phase.in_flight >= phase.options.concurrency) {
      phase.slot_free->expires_at(Clock::time_point::max());
      auto [sec] = co_await phase.slot_free->async_wait(kTuple);
      (void)sec;  // cancelled when a request finishes: that is the wake-up
    }
    Connection* c = nullptr;
    if (phase.idle.empty()) {
      phase.pool->push_back(std::make_unique<Connection>(phase.io));
      c = phase.pool->back().get();
    } else {
      c = phase.idle.back();
      phase.idle.pop_back();
    }
    ++phase.in_flight;
    RequestRecord& rec = phase.records.emplace_back();
    net::co_spawn(phase.io, OpenRequest(phase, *c, *index, rec), net::detached);
  }
}

void RunPhase(Phase& phase, std::vector<std::unique_ptr<Connection>>& pool) {
  const bool open_loop =
      std::isfinite(phase.options.request_rate) && phase.options.request_rate > 0;
  phase.t0 = Clock::now();
  if (open_loop) {
    phase.pool = &pool;
    for (auto& c : pool) phase.idle.push_back(c.get());
    phase.slot_free = std::make_unique<net::steady_timer>(phase.io);
    net::co_spawn(phase.io, Dispatcher(phase, phase.options.seed + 1), net::detached);
  } else {
    const size_t n = static_cast<size_t>(std::max(phase.options.concurrency, 1));
    while (pool.size() < n) pool.push_back(std::make_unique<Connection>(phase.io));
    for (size_t i = 0; i < n; ++i)
      net::co_spawn(phase.io, ClosedWorker(phase, *pool[i]), net::detached);
  }
  phase.io.run();
  phase.io.restart();
  ShowProgress(phase, true);
}

}  // namespace

RunResult RunLoad(const LoadOptions& options, const std::vector<Prompt>& prompts) {
  RunResult result;
  if (prompts.empty()) return result;
  const std::string path =
      StrCat(options.target.base_path, options.chat ? "/v1/chat/completions" : "/v1/completions");
  std::string extra_headers;
  for (const std::string& header : options.headers) StrAppend(extra_headers, header, "\r\n");
  std::vector<std::string> wires;
  wires.reserve(prompts.size());
  for (const Prompt& prompt : prompts) {
    const std::string body = RequestBody(options, prompt, wires.size());
    wires.push_back(StrCat("POST ", path, " HTTP/1.1\r\nHost: ", options.target.host, ":",
                           options.target.port,
                           "\r\nContent-Type: application/json\r\nAccept: */*\r\n"
                           "User-Agent: pdgate-bench\r\n",
                           extra_headers, "Content-Length: ", body.size(), "\r\n\r\n", body));
  }
  net::io_context io(1);
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto resolved = resolver.resolve(options.target.host, std::to_string(options.target.port), ec);
  if (ec || resolved.empty()) {
    RequestRecord rec;
    rec.failure = Failure::kConnection;
    rec.error = StrCat("resolve ", options.target.host, ": ", ec.message());
    result.records.push_back(std::move(rec));
    return result;
  }
  const tcp::endpoint endpoint = resolved.begin()->endpoint();
  std::vector<std::unique_ptr<Connection>> pool;
  if (options.warmup_requests > 0) {
    Phase warm(io, options, wires, prompts, endpoint);
    warm.count = options.warmup_requests;
    RunPhase(warm, pool);
  }
  Phase phase(io, options, wires, prompts, endpoint);
  phase.count = options.duration_s > 0 ? 0 : options.num_prompts;
  phase.duration_s = options.duration_s;
  // The measured phase starts from the first prompt again: a run sends the same measured
  // prompts with or without warm-up.
  RunPhase(phase, pool);
  for (RequestRecord& rec : phase.records) {
    result.duration_s = std::max(result.duration_s, rec.end_s);
    result.records.push_back(std::move(rec));
  }
  return result;
}

}  // namespace pdgate::loadgen
