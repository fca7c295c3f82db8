#pragma once
// vLLM's ZmqEventPublisher (vllm/distributed/kv_events.py; shared/research round2.md §A.2) for
// the simulator's KV-cache events.
//   - PUB bound to tcp://host:port; every batch is three frames: topic, sequence (8 bytes
//     big-endian, from 0 in each process, +1 per batch), msgpack payload (kv_event_encoding.h).
//     A send that would block is dropped (PUB past its high-water mark does that anyway).
//   - Replay, with a replay port: a ROUTER keeping the last buffer_steps batches. A request is
//     exactly [identity, "", start_seq (8 bytes BE)]; the answer is every kept batch with
//     seq >= start_seq, then an end marker with seq 0xFFFFFFFFFFFFFFFF and an empty payload. The
//     frames after [identity, ""] are [topic, seq, payload] in the map encoding (vLLM 0.26,
//     #45177; the marker's topic empty) and [seq, payload] in the array encoding (vLLM <= 0.25).
//     Anything else is ignored.
// ZMQ sockets are not thread-safe, so both live on one publisher thread; the engine strand hands
// it batches through a mutex-guarded queue and an eventfd the thread polls next to the ROUTER
// (no polling interval: a batch leaves as soon as the thread wakes). Batches are encoded there,
// off the engine strand. A full queue drops the batch rather than block the engine.
#include <cstdint>
#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/kv_event_encoding.h"

namespace pdgate::sim {

class KvEventsPublisher : public KvEventSink {
 public:
  struct Config {
    std::string host = "127.0.0.1";
    int port = 0;
    int replay_port = 0;  // 0: no replay socket
    std::string topic;
    KvBatchFormat format;
    size_t buffer_steps = 10000;
    int send_hwm = 100000;      // vLLM hwm
    size_t max_queue = 100000;  // vLLM max_queue_size
    std::atomic<int64_t>* subscriptions = nullptr;  // +1 per subscribe message seen
  };

  explicit KvEventsPublisher(Config config);
  ~KvEventsPublisher() override;
  KvEventsPublisher(const KvEventsPublisher&) = delete;
  KvEventsPublisher& operator=(const KvEventsPublisher&) = delete;

  // Binds the sockets (on the caller's thread, so a bind error is seen at startup) and starts
  // the publisher thread. False with `error` set when it cannot.
  [[nodiscard]] bool Start(std::string& error);
  // Sends what is queued, then stops and joins the thread. Idempotent.
  void Stop();

  // KvEventSink, on the engine strand: queues the batch and wakes the thread.
  void Publish(double ts, std::vector<KvCacheEvent> events) override;

 private:
  struct Pending {
    double ts = 0;
    std::vector<KvCacheEvent> events;
  };
  void Run();
  void Send(const Pending& pending);
  void ServeReplays();
  void ReadSubscriptions();
  void Reply(const zmq::message_t& identity, uint64_t seq, const std::string& payload,
             bool end_marker);

  const Config config_;
  zmq::context_t context_;
  zmq::socket_t pub_;
  zmq::socket_t router_;  // no handle without a replay port
  int wake_fd_ = -1;
  std::thread thread_;

  std::mutex mu_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_

  // Publisher thread only.
  uint64_t next_seq_ = 0;
  std::deque<std::pair<uint64_t, std::string>> kept_;  // (seq, payload) for replay
};

}  // namespace pdgate::sim
