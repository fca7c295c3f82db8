#pragma once
// The consumer side of the simulator's KV-cache events for integration tests: a SUB that knows
// when it is really connected (so no batch is lost to ZMQ's slow-joiner window), and a DEALER
// replay request, both with deadlines.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "discovery/kv_events.h"

namespace pdgate::sim::testing {

struct KvMessage {
  std::string topic;
  uint64_t seq = 0;
  std::string payload;
};

// The frames of a message as strings.
std::vector<std::string> Frames(std::vector<zmq::message_t>& parts);
uint64_t BigEndian64(const std::string& frame);  // 0 unless 8 bytes
std::string SeqFrame(uint64_t seq);
discovery::KvEventBatch DecodeOrFail(const std::string& payload);  // Catch FAIL on an error

class KvSubscriber {
 public:
  // Connects a SUB (all topics) to tcp://host:port.
  KvSubscriber(const std::string& host, uint16_t port);
  ~KvSubscriber();
  // Waits until `count` handshakes with the publisher have completed since the start (a restarted
  // publisher means one more). After it the subscription is on the wire before any batch.
  bool WaitConnected(int count = 1, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // The next three-frame message; nullopt at the deadline or on a malformed message.
  std::optional<KvMessage> Receive(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Messages until one with `seq`, inclusive.
  std::vector<KvMessage> ReceiveThrough(
      uint64_t seq, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  class Monitor;
  zmq::context_t context_;
  zmq::socket_t socket_;
  std::unique_ptr<Monitor> monitor_;
};

// Sends ["", start_seq] from a DEALER to tcp://host:port and reads replies until the end marker
// (seq all ones) or the deadline. Each reply is its frames after the empty delimiter.
std::vector<std::vector<std::string>> Replay(
    const std::string& host, uint16_t port, uint64_t start_seq,
    std::chrono::milliseconds timeout = std::chrono::seconds(10));
// The same with a raw request (frames after the delimiter); for malformed requests.
std::vector<std::vector<std::string>> ReplayRaw(const std::string& host, uint16_t port,
                                                const std::vector<std::string>& frames,
                                                std::chrono::milliseconds timeout);

}  // namespace pdgate::sim::testing
