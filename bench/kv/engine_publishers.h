#pragma once
// Many engines' vLLM KV-event publishers, simulated on one thread: per engine an XPUB socket (a
// PUB on the wire that also shows when a subscription arrived, so nothing is published before
// the subscriber listens: ZMQ drops what a PUB sends before that) bound to its own loopback
// address, all on one port, as pods in a cluster. Each engine publishes one batch per step, at
// its own offset within the step (engines are not in lockstep), in vLLM 0.26's map encoding
// (bench/engine_sim's encoder), three frames: topic (empty), 8-byte big-endian sequence from 0,
// payload. A batch holds a BlockStored for the step's new blocks (chains of `chain_blocks`,
// each block's parent the one before) and, once the engine's cache of `cache_blocks` is full,
// a BlockRemoved of as many of its oldest blocks: the steady state of a full cache.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace pdgate::kvbench {

struct EngineLoadSettings {
  std::vector<std::string> addresses;  // one engine each
  uint16_t port = 0;
  double blocks_per_second = 10000;  // stored, all engines together
  std::chrono::milliseconds step{10};
  size_t cache_blocks = 512;  // per engine
  size_t chain_blocks = 32;   // a request's prompt: 512 tokens
};

struct PublishReport {
  uint64_t batches = 0;
  uint64_t stored = 0;   // blocks in BlockStored events
  uint64_t removed = 0;  // blocks in BlockRemoved events
  uint64_t send_failures = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // the publishing thread's (ZMQ's I/O thread not included)
};

class EnginePublishers {
 public:
  explicit EnginePublishers(EngineLoadSettings settings);
  ~EnginePublishers();  // stops and joins
  EnginePublishers(const EnginePublishers&) = delete;
  EnginePublishers& operator=(const EnginePublishers&) = delete;

  // Starts the thread and waits until every socket is bound; false with `error` if one is not.
  [[nodiscard]] bool Start(std::string& error);
  // Until every engine has seen a subscription, at most `timeout`.
  bool WaitSubscribed(std::chrono::milliseconds timeout) const;
  // Publishes for `duration` and returns what was sent (once).
  PublishReport Publish(std::chrono::milliseconds duration);
  int tid() const { return tid_.load(); }

 private:
  void Run(std::promise<std::string>& bound);

  const EngineLoadSettings settings_;
  std::atomic<int> tid_{0};
  std::atomic<size_t> subscribed_{0};
  std::atomic<bool> stop_{false};
  std::promise<std::chrono::milliseconds> go_;  // main → publishing thread
  std::future<std::chrono::milliseconds> go_future_;
  std::promise<PublishReport> done_;  // publishing thread → main
  std::future<PublishReport> done_future_;
  std::thread thread_;
};

}  // namespace pdgate::kvbench
