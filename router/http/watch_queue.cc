#include "router/http/watch_queue.h"

#include <algorithm>
#include <optional>

namespace pdgate::router {

struct WatchQueue::Timer {
  explicit Timer(net::io_context& context) : ioc(context) {}
  net::io_context& ioc;
  std::optional<SteadyTimer> timer;  // made on first use, gone at Close()
  WatchQueue* queue = nullptr;       // null once the queue is closed
  bool armed = false;
};

WatchQueue::WatchQueue(net::io_context& ioc, Clock::duration delay)
    : delay_(delay), timer_(std::make_shared<Timer>(ioc)) {
  timer_->queue = this;
}

WatchQueue::~WatchQueue() { Close(); }

void WatchQueue::Close() {
  timer_->queue = nullptr;
  // Watches left (their requests torn down with the io_context) no longer point here.
  for (DisconnectWatch* watch = head_; watch != nullptr; watch = watch->next) {
    watch->queue = nullptr;
  }
  head_ = tail_ = nullptr;
  size_ = 0;
  timer_->timer.reset();  // a pending wait ends as aborted, or with its io_context
}

void WatchQueue::Add(Socket& client, const std::shared_ptr<DisconnectWatch>& watch) {
  const Clock::time_point now = Clock::now();
  watch->client = &client;
  watch->queue = this;
  watch->due = now + delay_;
  watch->prev = tail_;
  watch->next = nullptr;
  (tail_ != nullptr ? tail_->next : head_) = watch.get();
  tail_ = watch.get();
  ++size_;
  if (!timer_->armed) Arm(watch->due);
}

void WatchQueue::Remove(DisconnectWatch& watch) {
  (watch.prev != nullptr ? watch.prev->next : head_) = watch.next;
  (watch.next != nullptr ? watch.next->prev : tail_) = watch.prev;
  watch.prev = watch.next = nullptr;
  watch.queue = nullptr;
  --size_;
}

void WatchQueue::Arm(Clock::time_point at) {
  if (timer_->queue == nullptr) return;  // closed
  if (!timer_->timer) timer_->timer.emplace(timer_->ioc);
  timer_->armed = true;
  timer_->timer->expires_at(at);
  timer_->timer->async_wait([timer = timer_](const beast::error_code& ec) {
    timer->armed = false;
    if (ec || timer->queue == nullptr) return;
    timer->queue->StartDue(Clock::now());
  });
}

void WatchQueue::StartDue(Clock::time_point now) {
  while (head_ != nullptr && head_->due <= now) {
    DisconnectWatch& watch = *head_;
    Remove(watch);
    WatchClient(*watch.client, watch.shared_from_this());
  }
  // Not at the next one's due time: under load that would be a timer per request.
  if (head_ != nullptr) Arm(std::max(head_->due, now + delay_ / 2));
}

}  // namespace pdgate::router
