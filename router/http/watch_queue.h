#pragma once
// Starts a request's disconnect watch (WatchClient) only once the request has run for `delay`.
//
// A watch costs its request a wait on the client socket (an operation, and an epoll_ctl: Asio
// re-arms the descriptor for every wait), a cancel and the cancelled wait's completion, about 650
// instructions and one system call, while most requests are over in far less time than a client
// takes to leave, and one that ends without its client would have told the engine to abort a few
// milliseconds of work. A request still running after `delay` is watched from then on; one that is
// done before leaves the queue with nothing to cancel (DisconnectWatch::Stop).
//
// The queue is a list in the order of arrival (every watch waits the same delay, so the oldest
// are at the front), and one timer per io thread, armed while the list is not empty, starts what
// is due every half `delay`: a watch starts between `delay` and 1.5 × `delay` after Add.
//
// One thread: the queue, its watches and their sockets belong to one io_context. The io thread's
// Worker owns it; Close() before that io_context is destroyed.
#include <chrono>
#include <cstddef>
#include <memory>

#include "router/http/disconnect_watch.h"
#include "router/http/net.h"

namespace pdgate::router {

class WatchQueue {
 public:
  using Clock = std::chrono::steady_clock;
  WatchQueue(net::io_context& ioc, Clock::duration delay);
  ~WatchQueue();
  WatchQueue(const WatchQueue&) = delete;
  WatchQueue& operator=(const WatchQueue&) = delete;

  // Watches `client` for `watch` once `delay` has passed, unless the watch stops first.
  void Add(Socket& client, const std::shared_ptr<DisconnectWatch>& watch);
  // Takes a watch out without starting it (DisconnectWatch::Stop).
  void Remove(DisconnectWatch& watch);
  // Drops the queued watches and the timer: before the io_context goes (the timer is its object).
  void Close();

  size_t queued() const { return size_; }

 private:
  struct Timer;
  void Arm(Clock::time_point at);
  void StartDue(Clock::time_point now);

  Clock::duration delay_;
  DisconnectWatch* head_ = nullptr;  // the oldest
  DisconnectWatch* tail_ = nullptr;
  size_t size_ = 0;
  // Shared with the timer's pending wait, which may complete after the queue is gone.
  std::shared_ptr<Timer> timer_;
};

}  // namespace pdgate::router
