#include "router/limits/redis_connection.h"

#include <absl/strings/str_cat.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/async_result.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <deque>
#include <exception>
#include <optional>
#include <utility>

#include "router/limits/parked_handler.h"
#include "router/limits/redis_resp.h"

namespace pdgate::limits {

namespace {

using router::kTuple;
using router::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kInitialBackoff{50};
constexpr size_t kReadChunk = size_t{16} * 1024;

struct ReaderFree {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReaderPtr = std::unique_ptr<redisReader, ReaderFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

// One command waiting for its reply. Its coroutine is parked on `waiter`; whoever finishes the
// command first (the reply, a failure, its deadline) stores the result and resumes it. No timer
// per command: the connection keeps one deadline timer for all of them (State::WatchDeadlines).
struct Pending {
  explicit Pending(net::io_context& context) : ioc(context) {}
  void Complete(absl::StatusOr<RedisReply> outcome) {
    if (result) return;
    result = std::move(outcome);
    // Resumed from the io_context's queue, never inside the caller (the reader's loop).
    if (!waiter) return;
    net::post(ioc, [resume = std::move(waiter)]() mutable { resume.Resume(); });
  }
  net::io_context& ioc;
  Clock::time_point deadline = Clock::time_point::max();
  Parked waiter;
  std::optional<absl::StatusOr<RedisReply>> result;
  bool auth = false;  // our own AUTH, queued ahead of the commands of a new connection
};

enum class Phase { kIdle, kConnecting, kConnected, kBackoff, kClosed };

void LogConnectionEscaped(const std::exception_ptr& error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("redis: connection coroutine failed: {}", e.what());
  }
}

}  // namespace

// Everything the connection's coroutines touch. A connection attempt has a `generation`; a
// coroutine of an older attempt finds it changed when it resumes and stops without touching
// anything.
struct RedisConnection::State : std::enable_shared_from_this<State> {
  State(net::io_context& context, RedisOptions opts)
      : ioc(context),
        options(std::move(opts)),
        socket(context),
        resolver(context),
        connect_timer(context),
        deadline_timer(context) {}

  // The coroutines take `self` to keep the state alive until they end (the connection object
  // may be destroyed meanwhile).
  void StartConnect();
  Task<void> Connect(std::shared_ptr<State> self, uint64_t gen);
  Task<void> ReadLoop(std::shared_ptr<State> self, uint64_t gen);
  Task<void> WriteLoop(std::shared_ptr<State> self, uint64_t gen);
  void StartWriter();
  // Arms the deadline timer for a command due at `deadline`, unless it fires earlier already.
  void WatchDeadline(Clock::time_point deadline);
  void OnDeadline();
  // False when the connection failed (bad bytes, a reply nobody asked for, AUTH refused).
  bool Feed(const char* data, size_t size);
  void Fail(const absl::Status& why);

  net::io_context& ioc;
  RedisOptions options;
  Phase phase = Phase::kIdle;
  uint64_t generation = 0;
  Socket socket;
  tcp::resolver resolver;
  SteadyTimer connect_timer;
  // One timer for every command's deadline: armed for the earliest, re-armed when it fires.
  // A timer per command cost a timer-queue update (and often a reactor wake-up) per request.
  SteadyTimer deadline_timer;
  Clock::time_point deadline_armed = Clock::time_point::max();
  ReaderPtr reader;
  std::deque<std::shared_ptr<Pending>> pending;  // in the order their bytes were queued
  std::string out;                               // encoded, not yet taken by the writer
  bool writing = false;
  bool answered = false;  // this connection has answered a caller's command
  Clock::time_point backoff_until;
  std::chrono::milliseconds backoff = kInitialBackoff;
};

void RedisConnection::State::StartConnect() {
  phase = Phase::kConnecting;
  ++generation;
  answered = false;
  reader.reset(redisReaderCreate());
  if (!options.password.empty()) {
    // Queued first, so it is written first: Redis runs it before any caller's command.
    auto auth = std::make_shared<Pending>(ioc);
    auth->auth = true;
    std::vector<std::string> argv{"AUTH", options.password};
    AppendRespCommand(argv, out);
    pending.push_back(std::move(auth));
  }
  // Bounds resolve + connect: Fail() closes the socket and cancels the resolver.
  connect_timer.expires_after(options.connect_timeout);
  connect_timer.async_wait(
      [self = shared_from_this(), gen = generation](boost::system::error_code ec) {
        if (ec || gen != self->generation || self->phase != Phase::kConnecting) return;
        self->Fail(absl::UnavailableError("redis: connect timed out"));
      });
  net::co_spawn(ioc, Connect(shared_from_this(), generation), LogConnectionEscaped);
}

Task<void> RedisConnection::State::Connect(std::shared_ptr<State> self, uint64_t gen) {
  std::string port = std::to_string(options.port);
  auto [resolve_ec, endpoints] = co_await resolver.async_resolve(options.host, port, kTuple);
  if (gen != generation) co_return;
  if (resolve_ec) {
    Fail(absl::UnavailableError(
        absl::StrCat("redis: resolve ", options.host, ": ", resolve_ec.message())));
    co_return;
  }
  auto [connect_ec, endpoint] = co_await net::async_connect(socket, endpoints, kTuple);
  if (gen != generation) co_return;
  if (connect_ec) {
    Fail(absl::UnavailableError(absl::StrCat("redis: connect ", options.host, ":", options.port,
                                             ": ", connect_ec.message())));
    co_return;
  }
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  connect_timer.cancel();
  phase = Phase::kConnected;
  net::co_spawn(ioc, ReadLoop(self, gen), LogConnectionEscaped);
  StartWriter();
}

void RedisConnection::State::StartWriter() {
  if (writing || out.empty() || phase != Phase::kConnected) return;
  writing = true;
  net::co_spawn(ioc, WriteLoop(shared_from_this(), generation), LogConnectionEscaped);
}

Task<void> RedisConnection::State::WriteLoop(std::shared_ptr<State> /*keep-alive*/, uint64_t gen) {
  // The batch lives in this frame, not in the state: a failed connection's write may still be
  // completing when the next connection starts writing.
  std::string batch;
  while (!out.empty()) {
    batch.clear();
    batch.swap(out);  // everything queued so far goes out in one write (pipelining)
    auto [ec, written] = co_await net::async_write(socket, net::buffer(batch), kTuple);
    if (gen != generation) co_return;
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("redis: write: ", ec.message())));
      co_return;
    }
  }
  writing = false;
}

Task<void> RedisConnection::State::ReadLoop(std::shared_ptr<State> /*keep-alive*/, uint64_t gen) {
  std::string buffer(kReadChunk, '\0');
  for (;;) {
    auto [ec, size] = co_await socket.async_read_some(net::buffer(buffer), kTuple);
    if (gen != generation) co_return;
    if (ec) {
      Fail(absl::UnavailableError(absl::StrCat("redis: read: ", ec.message())));
      co_return;
    }
    if (!Feed(buffer.data(), size)) co_return;
  }
}

bool RedisConnection::State::Feed(const char* data, size_t size) {
  if (redisReaderFeed(reader.get(), data, size) != REDIS_OK) {
    Fail(absl::UnavailableError("redis: reader buffer"));
    return false;
  }
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK) {
      Fail(absl::UnavailableError(absl::StrCat("redis: protocol error: ", reader->errstr)));
      return false;
    }
    if (raw == nullptr) return true;  // needs more bytes
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (pending.empty()) {
      Fail(absl::UnavailableError("redis: a reply that no command asked for"));
      return false;
    }
    std::shared_ptr<Pending> front = std::move(pending.front());
    pending.pop_front();
    RedisReply value = Convert(*reply);
    if (front->auth) {
      if (value.is_error()) {
        // The commands pipelined behind it get NOAUTH errors: fail them as the transport.
        Fail(absl::UnavailableError(absl::StrCat("redis: AUTH refused: ", value.str)));
        return false;
      }
      continue;
    }
    if (!answered) {
      // Redis works again: the next failure starts the backoff from the beginning.
      answered = true;
      backoff = kInitialBackoff;
    }
    front->Complete(std::move(value));
  }
}

void RedisConnection::State::WatchDeadline(Clock::time_point deadline) {
  if (deadline >= deadline_armed) return;
  deadline_armed = deadline;
  deadline_timer.expires_at(deadline);
  deadline_timer.async_wait([self = shared_from_this(), deadline](boost::system::error_code ec) {
    // Cancelled by a re-arm for an earlier deadline (that wait owns the timer now), or closed.
    if (ec || self->deadline_armed != deadline) return;
    self->deadline_armed = Clock::time_point::max();
    self->OnDeadline();
  });
}

void RedisConnection::State::OnDeadline() {
  if (phase == Phase::kClosed) return;
  const Clock::time_point now = Clock::now();
  Clock::time_point next = Clock::time_point::max();
  for (const std::shared_ptr<Pending>& command : pending) {
    if (command->auth) continue;  // bounded by the commands behind it
    if (command->deadline <= now) {
      // Its reply may still come, and would be taken for the next command's: start over.
      command->Complete(absl::DeadlineExceededError(
          absl::StrCat("redis: no reply within ", options.command_timeout.count(), " ms")));
      Fail(absl::UnavailableError("redis: connection reset after a command timed out"));
      return;
    }
    next = std::min(next, command->deadline);
  }
  if (next != Clock::time_point::max()) WatchDeadline(next);
}

void RedisConnection::State::Fail(const absl::Status& why) {
  if (phase == Phase::kClosed) return;
  ++generation;
  boost::system::error_code ignored;
  socket.close(ignored);
  resolver.cancel();
  connect_timer.cancel();
  reader.reset();
  out.clear();
  writing = false;
  std::deque<std::shared_ptr<Pending>> failed;
  failed.swap(pending);
  for (const std::shared_ptr<Pending>& command : failed) command->Complete(why);
  phase = Phase::kBackoff;
  backoff_until = Clock::now() + backoff;
  backoff = std::min(backoff * 2, std::max(options.max_backoff, kInitialBackoff));
}

RedisConnection::RedisConnection(net::io_context& ioc, RedisOptions options)
    : state_(std::make_shared<State>(ioc, std::move(options))) {}

RedisConnection::~RedisConnection() {
  // Close() allocates (the statuses) and cancels timers, which Asio declares may throw; neither
  // happens in practice, and a destructor must not throw.
  try {
    Close();
  } catch (...) {
    spdlog::error("redis: closing the connection failed");
  }
}

void RedisConnection::Close() {
  state_->Fail(absl::UnavailableError("redis: connection closed"));
  state_->phase = Phase::kClosed;
  state_->deadline_armed = Clock::time_point::max();
  state_->deadline_timer.cancel();
}

bool RedisConnection::healthy() const {
  switch (state_->phase) {
    case Phase::kClosed:
      return false;
    case Phase::kBackoff:
      return Clock::now() >= state_->backoff_until;
    default:
      return true;
  }
}

size_t RedisConnection::pending() const { return state_->pending.size(); }

Task<absl::StatusOr<RedisReply>> RedisConnection::Command(const std::vector<std::string>& argv) {
  // From here on only `state` is used: this object may be destroyed while we wait.
  std::shared_ptr<State> state = state_;
  Clock::time_point now = Clock::now();
  if (argv.empty()) co_return absl::InvalidArgumentError("redis: empty command");
  if (state->phase == Phase::kClosed) co_return absl::UnavailableError("redis: connection closed");
  if (state->phase == Phase::kBackoff) {
    if (now < state->backoff_until) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(state->backoff_until - now);
      co_return absl::UnavailableError(
          absl::StrCat("redis: down, reconnecting in ", wait.count(), " ms"));
    }
    state->phase = Phase::kIdle;
  }
  if (state->pending.size() >= state->options.max_pending) {
    co_return absl::ResourceExhaustedError(
        absl::StrCat("redis: ", state->pending.size(), " commands already queued"));
  }
  if (state->phase == Phase::kIdle) state->StartConnect();
  Clock::time_point deadline = now + state->options.command_timeout;
  if (state->phase == Phase::kConnecting) deadline += state->options.connect_timeout;

  auto command = std::make_shared<Pending>(state->ioc);
  command->deadline = deadline;
  AppendRespCommand(argv, state->out);
  state->pending.push_back(command);
  state->StartWriter();
  state->WatchDeadline(deadline);
  if (!command->result) {
    // Parked until Complete(): the reply, a failure, or the deadline (OnDeadline).
    auto park = [command](auto resume) { command->waiter.Park(std::move(resume)); };
    co_await net::async_initiate<decltype(kAwait), void()>(park, kAwait);
  }
  co_return std::move(*command->result);
}

}  // namespace pdgate::limits
