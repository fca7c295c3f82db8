#pragma once
// Follows the engines' KV-cache event publishers (vLLM/SGLang `--kv-events-config`, research
// round2.md §A.2) and keeps a KvBlockIndex current. One ZMQ SUB per endpoint and data-parallel
// rank, connected to its publisher; where the engine offers a replay socket, a DEALER asks it
// for what was missed: from 0 when the subscription starts (blocks cached before we joined are
// never re-announced), and from the first missing sequence after a gap. Live batches that
// arrive during a replay wait and are applied after it, without the ones the replay already
// gave.
//
// What clears a rank's entries: a sequence going backwards (the engine restarted), a gap
// that no replay filled (removals may have been lost, and a stale entry misroutes, while a
// missing one only costs a cache hit), and the endpoint leaving. AllBlocksCleared clears the
// publishing rank inside the index. Before the live stream delivered anything, what a replay
// applied is checked against the first live batch: at or below it, by the bytes of the batch
// with that number; past it, by a replay from the last batch applied, which must open with the
// same bytes (a restarted engine whose first batches were lost while the subscription joined
// continues the old numbering: 1 after a replayed 0).
//
// Runs on its own thread (ZMQ sockets belong to one thread), never on the io threads; request
// threads only read the index. Data-parallel rank r of an endpoint publishes on the configured
// ports + r (dataParallelSize); each rank is a stream of its own, and what clears one rank (its
// restart, an unfilled gap) leaves the others' blocks.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "discovery/endpoint_snapshot.h"
#include "discovery/kv_block_index.h"

namespace pdgate::discovery {

// What the subscriber follows: the endpoints of the current snapshot and the index they feed.
// `index` null: kvcache-aware scoring is off, every subscription closes.
struct KvEventTargets {
  std::shared_ptr<const EndpointSnapshot> endpoints;
  std::shared_ptr<KvBlockIndex> index;
};

struct KvSubscriberCounters {
  std::atomic<uint64_t> batches{0};        // applied
  std::atomic<uint64_t> decode_errors{0};  // malformed messages, dropped
  std::atomic<uint64_t> gaps{0};
  std::atomic<uint64_t> restarts{0};
  std::atomic<uint64_t> replays{0};          // replays that reached their end marker
  std::atomic<uint64_t> replay_failures{0};  // timed out or overflowed: the endpoint was cleared
  std::atomic<uint64_t> held_batches{0};     // live batches that came during a replay, held
  std::atomic<uint64_t> sources{0};          // publishers followed now
  // BlockStored events whose block size is not blockSizeToHash: requests are chained in other
  // blocks than the engine's, so nothing they store can match (SGLang's default page size is 1).
  std::atomic<uint64_t> block_size_mismatches{0};
};

struct KvSubscriberOptions {
  std::chrono::milliseconds poll_interval{50};  // how soon a new snapshot is noticed
  // Rounds that read messages (live or replayed) start at least this far apart: with many
  // publishers each wake-up otherwise brings about one batch, and the poll over every socket
  // costs more than applying it. Events are applied up to this much later.
  std::chrono::milliseconds min_round{5};
  std::chrono::milliseconds replay_timeout{2000};  // for the whole replay
  size_t max_held_batches = 10000;                 // live batches held during a replay
};

class KvEventSubscriber {
 public:
  // `current` is called on the subscriber's thread, once per poll.
  KvEventSubscriber(std::function<KvEventTargets()> current, KvSubscriberOptions options = {});
  ~KvEventSubscriber();  // stops and joins
  KvEventSubscriber(const KvEventSubscriber&) = delete;
  KvEventSubscriber& operator=(const KvEventSubscriber&) = delete;

  void Start();
  void Stop();
  const KvSubscriberCounters& counters() const { return counters_; }

 private:
  struct Impl;
  std::function<KvEventTargets()> current_;
  KvSubscriberOptions options_;
  KvSubscriberCounters counters_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pdgate::discovery
