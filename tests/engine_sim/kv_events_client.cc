#include "tests/engine_sim/kv_events_client.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <span>
#include <zmq_addon.hpp>

namespace pdgate::sim::testing {
namespace {

std::string Endpoint(const std::string& host, uint16_t port) {
  return "tcp://" + host + ":" + std::to_string(port);
}

bool PollIn(zmq::socket_t& socket, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  return zmq::poll(&item, 1, left) > 0 && (item.revents & ZMQ_POLLIN);
}

}  // namespace

class KvSubscriber::Monitor : public zmq::monitor_t {
 public:
  int handshakes = 0;
  void on_event_handshake_succeeded(const zmq_event_t&, const char*) override { ++handshakes; }
};

std::vector<std::string> Frames(std::vector<zmq::message_t>& parts) {
  std::vector<std::string> frames;
  for (auto& part : parts) frames.push_back(part.to_string());
  return frames;
}

uint64_t BigEndian64(const std::string& frame) {
  if (frame.size() != 8) return 0;
  uint64_t value = 0;
  for (char c : frame) value = (value << 8) | static_cast<uint8_t>(c);
  return value;
}

std::string SeqFrame(uint64_t seq) {
  std::string frame(8, '\0');
  for (int i = 0; i < 8; ++i)
    frame[static_cast<size_t>(i)] = static_cast<char>(seq >> (56 - 8 * i));
  return frame;
}

discovery::KvEventBatch DecodeOrFail(const std::string& payload) {
  auto batch = discovery::DecodeKvEventBatch(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()));
  if (!batch.ok()) FAIL("payload does not decode: " << batch.status().ToString());
  return *std::move(batch);
}

KvSubscriber::KvSubscriber(const std::string& host, uint16_t port)
    : socket_(context_, zmq::socket_type::sub), monitor_(std::make_unique<Monitor>()) {
  static std::atomic<int> next{0};
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::subscribe, "");
  monitor_->init(socket_, "inproc://kv-sub-monitor-" + std::to_string(next++),
                 ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
  socket_.connect(Endpoint(host, port));
}

KvSubscriber::~KvSubscriber() {
  monitor_.reset();  // stops monitoring while the socket still exists
}

bool KvSubscriber::WaitConnected(int count, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (monitor_->handshakes < count) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    monitor_->check_event(50);
  }
  // A SUB resends its subscriptions after a reconnect only when its own thread processes the
  // pipe's "hiccup" command (on recv, poll or ZMQ_EVENTS); until then the new publisher sends to
  // nobody. Reading ZMQ_EVENTS processes it now, before the test makes the engine publish.
  (void)socket_.get(zmq::sockopt::events);
  return true;
}

std::optional<KvMessage> KvSubscriber::Receive(std::chrono::milliseconds timeout) {
  if (!PollIn(socket_, std::chrono::steady_clock::now() + timeout)) return std::nullopt;
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(socket_, std::back_inserter(parts)) || parts.size() != 3 ||
      parts[1].size() != 8) {
    return std::nullopt;
  }
  auto frames = Frames(parts);
  return KvMessage{frames[0], BigEndian64(frames[1]), frames[2]};
}

std::vector<KvMessage> KvSubscriber::ReceiveThrough(uint64_t seq,
                                                    std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<KvMessage> messages;
  while (messages.empty() || messages.back().seq < seq) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto message = Receive(left);
    if (!message) break;
    messages.push_back(std::move(*message));
  }
  return messages;
}

std::vector<std::vector<std::string>> ReplayRaw(const std::string& host, uint16_t port,
                                                const std::vector<std::string>& frames,
                                                std::chrono::milliseconds timeout) {
  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.connect(Endpoint(host, port));
  std::vector<zmq::const_buffer> request = {zmq::const_buffer()};  // the empty delimiter
  for (const std::string& frame : frames) request.push_back(zmq::buffer(frame));
  (void)zmq::send_multipart(dealer, request);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::vector<std::string>> replies;
  while (PollIn(dealer, deadline)) {
    std::vector<zmq::message_t> parts;
    if (!zmq::recv_multipart(dealer, std::back_inserter(parts))) break;
    auto reply = Frames(parts);
    if (reply.empty() || !reply.front().empty()) break;  // no delimiter: not a ROUTER reply
    reply.erase(reply.begin());
    const bool end = reply.size() >= 2 && BigEndian64(reply[reply.size() - 2]) == UINT64_MAX;
    replies.push_back(std::move(reply));
    if (end) break;
  }
  return replies;
}

std::vector<std::vector<std::string>> Replay(const std::string& host, uint16_t port,
                                             uint64_t start_seq,
                                             std::chrono::milliseconds timeout) {
  return ReplayRaw(host, port, {SeqFrame(start_seq)}, timeout);
}

}  // namespace pdgate::sim::testing
