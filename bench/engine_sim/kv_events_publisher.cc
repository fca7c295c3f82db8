#include "bench/engine_sim/kv_events_publisher.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iterator>
#include <zmq_addon.hpp>

#include "base/strings.h"

namespace pdgate::sim {
namespace {

constexpr uint64_t kReplayEnd = UINT64_MAX;  // the end marker's seq: -1 as signed 8 bytes

std::array<uint8_t, 8> BigEndian(uint64_t value) {
  std::array<uint8_t, 8> bytes{};
  for (int i = 0; i < 8; ++i)
    bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(value >> (56 - 8 * i));
  return bytes;
}

// "tcp://host:port"; an any-address host binds every interface, as vLLM's "tcp://*:5557".
std::string Endpoint(const std::string& host, int port) {
  if (host.empty() || host == "0.0.0.0" || host == "::") return StrCat("tcp://*:", port);
  if (host.find(':') != std::string::npos) return StrCat("tcp://[", host, "]:", port);
  return StrCat("tcp://", host, ":", port);
}

}  // namespace

KvEventsPublisher::KvEventsPublisher(Config config) : config_(std::move(config)) {}

KvEventsPublisher::~KvEventsPublisher() { Stop(); }

bool KvEventsPublisher::Start(std::string& error) {
  const bool ipv6 = config_.host.find(':') != std::string::npos;
  try {
    // XPUB: a PUB on the wire (vLLM's socket), which also hands us the subscriptions.
    pub_ = zmq::socket_t(context_, zmq::socket_type::xpub);
    pub_.set(zmq::sockopt::xpub_verbose, 1);
    pub_.set(zmq::sockopt::sndhwm, config_.send_hwm);
    pub_.set(zmq::sockopt::linger, 0);
    pub_.set(zmq::sockopt::ipv6, ipv6);
    pub_.bind(Endpoint(config_.host, config_.port));
    if (config_.replay_port != 0) {
      router_ = zmq::socket_t(context_, zmq::socket_type::router);
      router_.set(zmq::sockopt::linger, 0);
      router_.set(zmq::sockopt::ipv6, ipv6);
      router_.bind(Endpoint(config_.host, config_.replay_port));
    }
  } catch (const zmq::error_t& e) {
    error = StrCat("KV events: cannot bind on ", config_.host, " ports ", config_.port, "/",
                   config_.replay_port, ": ", e.what());
    return false;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    error = "KV events: eventfd failed";
    return false;
  }
  // The thread blocks every signal: SIGTERM goes to an Asio thread, and zmq_poll here is never
  // interrupted (EINTR) by it.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  thread_ = std::thread([this] { Run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return true;
}

void KvEventsPublisher::Stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
    thread_.join();
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
  pub_.close();
  router_.close();
  context_.close();
}

void KvEventsPublisher::Publish(double ts, std::vector<KvCacheEvent> events) {
  std::lock_guard lock(mu_);  // held for the write too: Stop() closes the fd after stopping_
  if (stopping_ || wake_fd_ < 0 || queue_.size() >= config_.max_queue) return;  // dropped
  queue_.push_back(Pending{ts, std::move(events)});
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
}

void KvEventsPublisher::Run() {
  const bool replay = router_.handle() != nullptr;
  for (;;) {
    std::array<zmq::pollitem_t, 3> items{};
    items[0] = {nullptr, wake_fd_, ZMQ_POLLIN, 0};
    items[1] = {pub_.handle(), 0, ZMQ_POLLIN, 0};
    items[2] = {router_.handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(items.data(), replay ? 3 : 2);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      std::fprintf(stderr, "pdgate-engine-sim: KV events stopped: %s\n", e.what());
      return;
    }
    if (items[0].revents & ZMQ_POLLIN) {
      uint64_t count = 0;
      [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof(count));
      std::deque<Pending> batches;
      bool stop = false;
      {
        std::lock_guard lock(mu_);
        batches.swap(queue_);
        stop = stopping_;
      }
      for (const Pending& pending : batches) Send(pending);
      if (stop) return;
    }
    if (items[1].revents & ZMQ_POLLIN) ReadSubscriptions();
    if (replay && (items[2].revents & ZMQ_POLLIN)) ServeReplays();
  }
}

// Each message on an XPUB is a (un)subscription: 1 or 0, then the topic prefix. Verbose, so a
// second subscriber to the same prefix is seen too.
void KvEventsPublisher::ReadSubscriptions() {
  for (;;) {
    zmq::message_t message;
    zmq::recv_result_t got;
    try {
      got = pub_.recv(message, zmq::recv_flags::dontwait);
    } catch (const zmq::error_t&) {
      return;
    }
    if (!got) return;
    if (message.size() == 0 || config_.subscriptions == nullptr) continue;
    const auto first = static_cast<const uint8_t*>(message.data())[0];
    if (first == 1) config_.subscriptions->fetch_add(1, std::memory_order_relaxed);
  }
}

void KvEventsPublisher::Send(const Pending& pending) {
  std::string payload = EncodeKvEventBatch(pending.ts, pending.events, config_.format);
  const uint64_t seq = next_seq_++;
  const auto seq_bytes = BigEndian(seq);
  const std::array<zmq::const_buffer, 3> frames = {zmq::buffer(config_.topic),
                                                   zmq::buffer(seq_bytes), zmq::buffer(payload)};
  try {
    // PUB never blocks: past the high-water mark a message is dropped for that subscriber.
    (void)zmq::send_multipart(pub_, frames, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "pdgate-engine-sim: KV events: send failed: %s\n", e.what());
  }
  if (config_.buffer_steps == 0) return;
  if (kept_.size() >= config_.buffer_steps) kept_.pop_front();
  kept_.emplace_back(seq, std::move(payload));
}

void KvEventsPublisher::ServeReplays() {
  for (;;) {
    std::vector<zmq::message_t> request;
    try {
      if (!zmq::recv_multipart(router_, std::back_inserter(request), zmq::recv_flags::dontwait)) {
        return;  // nothing more waiting
      }
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      return;
    }
    if (request.size() != 3 || request[1].size() != 0 || request[2].size() != 8) continue;
    const auto* bytes = request[2].data<uint8_t>();
    uint64_t start = 0;
    for (int i = 0; i < 8; ++i) start = (start << 8) | bytes[i];
    for (const auto& [seq, payload] : kept_) {
      if (seq >= start) Reply(request[0], seq, payload, false);
    }
    Reply(request[0], kReplayEnd, std::string(), true);
  }
}

void KvEventsPublisher::Reply(const zmq::message_t& identity, uint64_t seq,
                              const std::string& payload, bool end_marker) {
  const auto seq_bytes = BigEndian(seq);
  const std::string_view topic = end_marker ? std::string_view() : config_.topic;
  std::vector<zmq::const_buffer> frames = {zmq::buffer(identity.data(), identity.size()),
                                           zmq::const_buffer()};
  if (config_.format.encoding == KvEventEncoding::kMap) frames.push_back(zmq::buffer(topic));
  frames.push_back(zmq::buffer(seq_bytes));
  frames.push_back(zmq::buffer(payload));
  try {
    // A ROUTER drops what it cannot route or queue (peer gone, high-water mark) without blocking.
    (void)zmq::send_multipart(router_, frames, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "pdgate-engine-sim: KV events: replay send failed: %s\n", e.what());
  }
}

}  // namespace pdgate::sim
