#pragma once
// The subscriber's thread state (kv_event_subscriber.cc: the poll loop, sources, live batches;
// kv_event_replay.cc: replays and what they tell of restarts). Included by those two files only.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "discovery/kv_event_source.h"
#include "discovery/kv_event_subscriber.h"
#include "discovery/replayed_batches.h"

namespace pdgate::discovery {
namespace kv_subscriber_internal {

using Clock = std::chrono::steady_clock;

// Messages read from one socket per poll round, so one busy publisher cannot starve the others
// or the snapshot check.
constexpr int kMaxMessagesPerRound = 256;
// Replays in a row that did not close a gap before the endpoint is cleared instead.
constexpr int kMaxReplaysInARow = 3;

inline std::span<const uint8_t> Bytes(const zmq::message_t& message) {
  return {static_cast<const uint8_t*>(message.data()), message.size()};
}

using Source = KvEventSource;

}  // namespace kv_subscriber_internal

struct KvEventSubscriber::Impl {
  using Clock = kv_subscriber_internal::Clock;
  using Source = kv_subscriber_internal::Source;

  struct Stream {
    uint32_t slot = 0;
    uint32_t rank = 0;
    Source source;
    zmq::socket_t sub;
    std::optional<zmq::socket_t> dealer;  // while a replay runs
    std::optional<uint64_t> last;         // the last batch applied (live or replayed)
    std::optional<uint64_t> live_last;    // the last batch the live stream delivered
    int replays_in_a_row = 0;             // replays with no in-order live batch between
    bool replaying = false;
    Clock::time_point replay_deadline;
    uint64_t replay_from = 0;
    bool replay_started = false;                            // its first batch came
    std::vector<std::pair<uint64_t, zmq::message_t>> held;  // live batches during a replay
    ReplayedBatches replayed;  // the last replay's, until a live batch came
    // Set while a replay asked from `last` checks that the engine still holds that batch with
    // the bytes applied (their hash): other bytes, or none, mean it restarted.
    std::optional<size_t> verify;
  };

  explicit Impl(KvEventSubscriber& subscriber)
      : owner(subscriber), counters(subscriber.counters_) {}

  KvEventSubscriber& owner;
  KvSubscriberCounters& counters;
  zmq::context_t context{1};
  std::shared_ptr<const EndpointSnapshot> endpoints;
  std::shared_ptr<KvBlockIndex> index;
  using StreamKey = std::pair<uint32_t, uint32_t>;  // endpoint slot, data-parallel rank
  std::map<StreamKey, Stream> streams;
  uint32_t block_size = 16;  // blockSizeToHash, of the current configuration

  void Run();
  void Reconcile(KvEventTargets targets);
  void Open(uint32_t slot, Source source);
  void StartReplay(Stream& stream, uint64_t from);
  void Apply(Stream& stream, uint64_t seq, const zmq::message_t& payload);

  // Whether a replay may be asked now: one is offered, and replays have not kept failing to
  // close a gap (a publisher whose buffer no longer reaches back).
  bool MayReplay(const Stream& stream) const;

  // A live batch (also one held during a replay, once it ended). The live stream's own numbering
  // going back means a restart. Before it delivered anything, a batch at or below what a replay
  // applied is the live copy of a replayed one if its bytes are the same, else the first batch
  // of a restarted engine. A batch past it may follow it, or be a restarted engine's whose first
  // batches were lost while the subscription was joining (number 1 after a replayed 0 is
  // either): a replay from `last` asks the engine whether it still holds that batch.
  void OnLive(Stream& stream, uint64_t seq, zmq::message_t payload);

  // Asks for the batches from `from` on, holding the live batch that showed them missing.
  void Replay(Stream& stream, uint64_t from, uint64_t seq, zmq::message_t payload);

  void ReadLive(Stream& stream);
  // Replies: ["", seq, payload] (vLLM ≤ 0.25) or ["", topic, seq, payload] (0.26+); the end
  // marker has seq all ones and an empty payload.
  void ReadReplay(Stream& stream);

  // A replay asked from `last` to check the engine opened with other bytes there, or without that
  // batch: the engine restarted (or its buffer no longer reaches back, which leaves the same
  // doubt). The rank is cleared and its numbering forgotten. Returns true when the replay was
  // asked again from 0, for the new process's batches before `last`; false when this answer,
  // asked from 0 already, holds them, or when replays in a row reached their bound (the answer
  // is then applied from where it starts).
  bool RestartedUnderReplay(Stream& stream);

  // A restart seen: counted, the rank's entries cleared, its numbering forgotten.
  void ForgetRestarted(Stream& stream);
  void FailReplay(Stream& stream, std::string_view why);
  void FinishReplay(Stream& stream, bool failed);
};

}  // namespace pdgate::discovery
