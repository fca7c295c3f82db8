#pragma once
// One pipelined RESP2 connection to Redis, owned by one io thread (no locks, not thread-safe).
//
// Many coroutines of the thread call Command() at once: each command is encoded and appended to
// one output buffer, and one writer sends whatever has accumulated in a single write (pipelining).
// Redis answers in order, so replies are matched to commands FIFO.
//
// The rate limiter asks Redis on the request path, so the connection must never make a request
// wait for a sick Redis: every command has a deadline (command_timeout), and after any failure the
// connection stays down for an exponential backoff during which Command() fails at once. A command
// that misses its deadline leaves its reply somewhere in the stream, so the FIFO can no longer be
// trusted: the connection is closed and everything queued behind it fails too.
//
// Lifetime: the connection's state is a shared object that every coroutine it spawns (connect,
// reader, writer, each Command) keeps alive by a shared_ptr; the destructor calls Close(), which
// fails every pending command and closes the socket, so nothing touches freed memory afterwards
// (we chose shared state over cancel-and-wait because a destructor cannot wait on the io thread).
// Destroy the connection before its io_context.
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "router/http/net.h"

namespace pdgate::limits {

namespace net = router::net;
using router::kAwait;
using router::kTuple;
using router::Socket;
using router::SteadyTimer;
using router::Task;

struct RedisOptions {
  std::string host = "127.0.0.1";  // a name or an address (resolved asynchronously)
  uint16_t port = 6379;
  std::string password;  // AUTH when not empty
  // Resolve + TCP connect. A command queued while connecting gets this on top of its own timeout.
  std::chrono::milliseconds connect_timeout{200};
  std::chrono::milliseconds command_timeout{50};
  std::chrono::milliseconds max_backoff{5000};  // reconnect backoff: 50 ms doubling up to this
  size_t max_pending = 10000;                   // queued + unanswered commands
};

// A RESP2 reply. An error reply ("-ERR ...") is a value of type kError, not a failed status: only
// the transport fails a command.
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  std::vector<RedisReply> elements;

  bool is_error() const { return type == Type::kError; }
  bool is_nil() const { return type == Type::kNil; }
};

class RedisConnection {
 public:
  RedisConnection(net::io_context& ioc, RedisOptions options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command (argv[0] is its name) and waits for its reply. Connects on first use.
  // Fails with Unavailable (down, in backoff, transport error, failed behind a timed-out command,
  // or closed), DeadlineExceeded (no reply within command_timeout), ResourceExhausted (max_pending
  // commands queued) or InvalidArgument (empty argv).
  // GCC 12: pass a named local, never a temporary (see router/http/client_io.h).
  Task<absl::StatusOr<RedisReply>> Command(const std::vector<std::string>& argv);

  // False while in backoff after a failure, and after Close(); true otherwise (also before the
  // first command, when nothing has failed yet).
  bool healthy() const;
  // Commands queued or waiting for their reply.
  size_t pending() const;

  // Fails every pending command and closes the socket; Command() fails from now on.
  void Close();

  struct State;  // defined in the .cc: hiredis stays out of this header

 private:
  std::shared_ptr<State> state_;
};

// RESP2 encoding of one command: an array of bulk strings. Appends to `out`.
void AppendRespCommand(const std::vector<std::string>& argv, std::string& out);

}  // namespace pdgate::limits
