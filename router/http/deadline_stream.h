#pragma once
// A TCP stream whose operations end with beast::error::timeout at a deadline, as Beast's
// basic_stream does, but with one timer per connection that is armed lazily.
//
// basic_stream arms a timer when an operation starts and cancels it when it ends: two updates of
// the reactor's timer queue (each under its mutex) per read or write, about a dozen per proxied
// request. Here expires_after() only stores the deadline. The timer is armed when an operation
// starts (or the deadline of a pending one moves earlier) and none is armed early enough; when it
// fires, a deadline that has moved later re-arms it and one that has passed closes the socket. A
// keep-alive connection whose deadlines move forward with each request thus re-arms its timer about
// once per timeout period, not per operation.
//
// One thread: every call and completion runs on the connection's io thread (router/http/net.h).
#include <boost/asio/post.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include "router/http/net.h"

namespace pdgate::router {

class DeadlineStream {
 public:
  using Clock = std::chrono::steady_clock;
  using executor_type = Executor;
  using socket_type = Socket;

  explicit DeadlineStream(const Executor& executor);
  explicit DeadlineStream(Socket socket);
  // Closes the socket: operations still pending complete with operation_aborted.
  ~DeadlineStream();
  DeadlineStream(const DeadlineStream&) = delete;
  DeadlineStream& operator=(const DeadlineStream&) = delete;

  executor_type get_executor() noexcept { return state_->socket.get_executor(); }
  Socket& socket() { return state_->socket; }

  // The deadline of the operations pending now and started later, until it is set again.
  void expires_after(Clock::duration timeout) { state_->SetDeadline(Clock::now() + timeout); }
  void expires_at(Clock::time_point deadline) { state_->SetDeadline(deadline); }
  void expires_never() { state_->deadline = Clock::time_point::max(); }
  // Pending operations complete with operation_aborted; the socket stays open.
  void cancel();
  void close();
  // Writes what the socket's send buffer takes now, without waiting and without Asio's operation
  // machinery (about 800 instructions per asynchronous write: the operation, its queueing, the
  // coroutine's resumption). Returns the bytes written, 0 when the buffer is full; `ec` is set
  // when the socket failed (beast::error::timeout when the deadline closed it). The caller writes
  // what is left with an asynchronous write, and none may be in flight when it calls this.
  std::size_t WriteNow(std::span<const net::const_buffer> buffers, beast::error_code& ec);
  // How often the timer was armed (tests: once per timeout period, not per operation).
  uint64_t timer_arms() const { return state_->arms; }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [](auto handler, State* state, const MutableBuffers& b) {
          if (!state->Started()) return state->Late(std::move(handler), std::size_t{0});
          state->socket.async_read_some(b, state->Wrap(std::move(handler)));
        },
        token, state_.get(), buffers);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code, std::size_t)>(
        [](auto handler, State* state, const ConstBuffers& b) {
          if (!state->Started()) return state->Late(std::move(handler), std::size_t{0});
          state->socket.async_write_some(b, state->Wrap(std::move(handler)));
        },
        token, state_.get(), buffers);
  }

  template <class Token>
  auto async_connect(const tcp::endpoint& endpoint, Token&& token) {
    return net::async_initiate<Token, void(beast::error_code)>(
        [](auto handler, State* state, const tcp::endpoint& to) {
          if (!state->Started()) return state->Late(std::move(handler));
          state->socket.async_connect(to, state->Wrap(std::move(handler)));
        },
        token, state_.get(), endpoint);
  }

 private:
  // Shared with the completions and the timer's wait, which may outlive the stream object.
  struct State : std::enable_shared_from_this<State> {
    explicit State(Socket s) : socket(std::move(s)), timer(socket.get_executor()) {}

    // False when the deadline has passed: the socket is closed, as basic_stream does, and the
    // operation completes with timeout. Clock::now() only when no wait covers the deadline.
    bool Started() {
      ++pending;
      if (deadline >= armed) return true;
      if (deadline <= Clock::now()) {
        timed_out = true;
        beast::error_code ignored;
        socket.close(ignored);
        return false;
      }
      Arm();
      return true;
    }
    void SetDeadline(Clock::time_point at) {
      deadline = at;
      if (pending > 0 && deadline < armed) Arm();  // earlier than a pending operation's wait
    }
    void Arm();
    void Fired(const beast::error_code& ec, Clock::time_point at);
    void Close();

    // Ends an operation: its error becomes `timeout` when the deadline closed the socket.
    template <class Handler>
    struct Completion {
      std::shared_ptr<State> state;
      Handler handler;

      using executor_type = net::associated_executor_t<Handler, Executor>;
      executor_type get_executor() const noexcept {
        return net::get_associated_executor(handler, state->socket.get_executor());
      }
      using allocator_type = net::associated_allocator_t<Handler>;
      allocator_type get_allocator() const noexcept {
        return net::get_associated_allocator(handler);
      }
      using cancellation_slot_type = net::associated_cancellation_slot_t<Handler>;
      cancellation_slot_type get_cancellation_slot() const noexcept {
        return net::get_associated_cancellation_slot(handler);
      }

      template <class... Results>
      void operator()(beast::error_code ec, Results&&... results) {
        --state->pending;
        if (ec && state->timed_out &&
            (ec == net::error::operation_aborted || ec == net::error::bad_descriptor)) {
          ec = beast::error::timeout;
        }
        std::move(handler)(ec, std::forward<Results>(results)...);
      }
    };
    template <class Handler>
    Completion<std::decay_t<Handler>> Wrap(Handler&& handler) {
      return {shared_from_this(), std::forward<Handler>(handler)};
    }
    // Completes an operation that could not start (Started() false) from the io_context's queue.
    template <class Handler, class... Results>
    void Late(Handler&& handler, Results... results) {
      net::post(
          socket.get_executor(),
          beast::bind_front_handler(Wrap(std::forward<Handler>(handler)),
                                    beast::error_code(net::error::bad_descriptor), results...));
    }

    Socket socket;
    SteadyTimer timer;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point armed = Clock::time_point::max();  // when the timer's wait ends; max: none
    int pending = 0;                                     // operations started, not completed
    uint64_t arms = 0;
    bool timed_out = false;  // the deadline closed the socket
  };

  std::shared_ptr<State> state_;
};

// What of `buffers` a write that took their first `written` bytes left (WriteNow's rest): written
// to `rest`, which has room for buffers.size() pieces; returns how many (none empty).
std::size_t BuffersAfter(std::span<const net::const_buffer> buffers, std::size_t written,
                         net::const_buffer* rest);

}  // namespace pdgate::router
