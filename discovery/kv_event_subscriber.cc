#include "discovery/kv_event_subscriber.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <array>
#include <csignal>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <vector>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "config/config.h"
#include "discovery/kv_event_source.h"
#include "discovery/replayed_batches.h"

namespace pdgate::discovery {
namespace {

using Clock = std::chrono::steady_clock;

// Messages read from one socket per poll round, so one busy publisher cannot starve the others
// or the snapshot check.
constexpr int kMaxMessagesPerRound = 256;
// Replays in a row that did not close a gap before the endpoint is cleared instead.
constexpr int kMaxReplaysInARow = 3;

std::span<const uint8_t> Bytes(const zmq::message_t& message) {
  return {static_cast<const uint8_t*>(message.data()), message.size()};
}

using Source = KvEventSource;

}  // namespace

struct KvEventSubscriber::Impl {
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

  void Run() {
    while (!owner.stop_.load(std::memory_order_relaxed)) {
      Reconcile(owner.current_());
      std::vector<zmq::pollitem_t> items;
      std::vector<std::pair<Stream*, bool>> owners;  // (stream, replay socket)
      for (auto& [key, stream] : streams) {
        items.push_back({static_cast<void*>(stream.sub), 0, ZMQ_POLLIN, 0});
        owners.emplace_back(&stream, false);
        if (stream.dealer) {
          items.push_back({static_cast<void*>(*stream.dealer), 0, ZMQ_POLLIN, 0});
          owners.emplace_back(&stream, true);
        }
      }
      if (items.empty()) {
        std::this_thread::sleep_for(owner.options_.poll_interval);
        continue;
      }
      try {
        zmq::poll(items, owner.options_.poll_interval);
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        continue;
      }
      const Clock::time_point woke = Clock::now();
      bool read = false;
      for (size_t i = 0; i < items.size(); ++i) {
        if ((items[i].revents & ZMQ_POLLIN) == 0) continue;
        read = true;
        auto [stream, replay] = owners[i];
        if (replay) {
          ReadReplay(*stream);
        } else {
          ReadLive(*stream);
        }
      }
      const Clock::time_point now = Clock::now();
      for (auto& [key, stream] : streams) {
        if (!stream.replaying || now < stream.replay_deadline) continue;
        if (!stream.replay_started && stream.held.empty() && !stream.last) {
          // Nothing ever came from this publisher: likely none listens there (a data-parallel
          // rank that another pod serves). Nothing was indexed; its first batch, if any, asks.
          spdlog::debug("kv events: no answer from {}", stream.source.replay_url);
          FinishReplay(stream, /*failed=*/true);
          continue;
        }
        FailReplay(stream, "timed out");
      }
      if (read) std::this_thread::sleep_until(woke + owner.options_.min_round);
    }
    streams.clear();
  }

  void Reconcile(KvEventTargets targets) {
    if (targets.endpoints == endpoints && targets.index == index) return;
    if (targets.index != index) streams.clear();  // a new index starts empty: follow afresh
    endpoints = std::move(targets.endpoints);
    index = std::move(targets.index);
    std::map<StreamKey, Source> wanted;
    if (index != nullptr && endpoints != nullptr) {
      const config::KvCacheAwareArgs& args = endpoints->config->settings.scheduler.kv_cache_aware;
      block_size = uint32_t(args.block_size_to_hash);
      for (const ServerEndpoints& server : endpoints->servers) {
        for (const Endpoint& endpoint : server.endpoints) {
          if (endpoint.address.empty()) continue;
          for (int r = 0; r < args.data_parallel_size; ++r) {
            const auto rank = uint32_t(r);
            wanted[{endpoint.live->slot(), rank}] = {
                rank, KvEventUrl(endpoint.address, uint16_t(args.events_port + r)),
                args.replay_port != 0 ? KvEventUrl(endpoint.address, uint16_t(args.replay_port + r))
                                      : "",
                args.topic};
          }
        }
      }
    }
    for (auto it = streams.begin(); it != streams.end();) {
      auto want = wanted.find(it->first);
      if (want != wanted.end() && want->second == it->second.source) {
        ++it;
        continue;
      }
      // (index is non-null while streams exist)
      index->ClearRank(it->second.slot, it->second.rank);
      it = streams.erase(it);
    }
    for (auto& [key, source] : wanted) {
      if (streams.count(key) != 0) continue;
      Open(key.first, std::move(source));
    }
    counters.sources.store(streams.size(), std::memory_order_relaxed);
  }

  void Open(uint32_t slot, Source source) {
    try {
      zmq::socket_t sub(context, zmq::socket_type::sub);
      sub.set(zmq::sockopt::linger, 0);
      sub.set(zmq::sockopt::ipv6, 1);
      sub.set(zmq::sockopt::subscribe, source.topic);
      sub.connect(source.url);
      Stream& stream = streams[{slot, source.rank}];
      stream.slot = slot;
      stream.rank = source.rank;
      stream.source = std::move(source);
      stream.sub = std::move(sub);
      // Blocks cached before we joined are announced only by a replay.
      if (!stream.source.replay_url.empty()) StartReplay(stream, 0);
    } catch (const zmq::error_t& e) {
      spdlog::warn("kv events: cannot subscribe to {}: {}", source.url, e.what());
    }
  }

  void StartReplay(Stream& stream, uint64_t from) {
    try {
      zmq::socket_t dealer(context, zmq::socket_type::dealer);
      dealer.set(zmq::sockopt::linger, 0);
      dealer.set(zmq::sockopt::ipv6, 1);
      dealer.connect(stream.source.replay_url);
      const std::array<uint8_t, 8> start = EncodeKvEventSequence(from);
      std::array<zmq::const_buffer, 2> request{zmq::const_buffer(nullptr, 0), zmq::buffer(start)};
      zmq::send_multipart(dealer, request, zmq::send_flags::dontwait);
      stream.dealer = std::move(dealer);
      stream.replayed.Clear();
      stream.replaying = true;
      stream.replay_started = false;
      stream.replay_from = from;
      stream.replay_deadline = Clock::now() + owner.options_.replay_timeout;
    } catch (const zmq::error_t& e) {
      FailReplay(stream, e.what());
    }
  }

  void Apply(Stream& stream, uint64_t seq, const zmq::message_t& payload) {
    absl::StatusOr<KvEventBatch> batch = DecodeKvEventBatch(Bytes(payload));
    stream.last = seq;
    if (!batch.ok()) {
      counters.decode_errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("kv events from {}: {}", stream.source.url,
                    std::string(batch.status().message()));
      return;
    }
    for (const KvEvent& event : batch->events) {
      if (event.type != KvEventType::kBlockStored || event.block_size == block_size) continue;
      if (counters.block_size_mismatches.fetch_add(1, std::memory_order_relaxed) == 0) {
        spdlog::warn(
            "kv events from {}: blocks of {} tokens, but blockSizeToHash is {}: they "
            "cannot match requests (set the engines' block/page size or the arg alike)",
            stream.source.url, event.block_size, block_size);
      }
    }
    // The port says whose batch it is (a batch may leave its rank out: older engines).
    batch->data_parallel_rank = stream.rank;
    index->Apply(stream.slot, "", *batch);
    counters.batches.fetch_add(1, std::memory_order_relaxed);
  }

  // Whether a replay may be asked now: one is offered, and replays have not kept failing to
  // close a gap (a publisher whose buffer no longer reaches back).
  bool MayReplay(const Stream& stream) const {
    return !stream.source.replay_url.empty() && stream.replays_in_a_row < kMaxReplaysInARow;
  }

  // A live batch (also one held during a replay, once it ended). The live stream's own numbering
  // going back means a restart. Before it delivered anything, a batch at or below what a replay
  // applied is the live copy of a replayed one if its bytes are the same, else the first batch
  // of a restarted engine.
  void OnLive(Stream& stream, uint64_t seq, zmq::message_t payload) {
    if (stream.replaying) {
      if (stream.held.size() < owner.options_.max_held_batches) {
        stream.held.emplace_back(seq, std::move(payload));
        return;
      }
      FailReplay(stream, "too many live batches meanwhile");
    }
    const bool restarted = stream.live_last ? seq <= *stream.live_last
                                            : stream.last && seq <= *stream.last &&
                                                  !stream.replayed.Holds(seq, Bytes(payload));
    stream.live_last = seq;
    stream.replayed.Clear();  // only the first live batch needs it
    if (restarted) {
      counters.restarts.fetch_add(1, std::memory_order_relaxed);
      index->ClearRank(stream.slot, stream.rank);
      stream.last.reset();
      stream.replays_in_a_row = 0;
      // The new process may have published before we saw it: its buffer has those.
      if (seq > 0 && MayReplay(stream)) return Replay(stream, 0, seq, std::move(payload));
      return Apply(stream, seq, payload);
    }
    if (stream.last && seq <= *stream.last) return;  // a replay applied it already
    const uint64_t expected = stream.last ? *stream.last + 1 : 0;
    if (seq != expected) {
      // Batches were lost (or, with nothing applied yet, published before we joined).
      if (stream.last) counters.gaps.fetch_add(1, std::memory_order_relaxed);
      if (MayReplay(stream)) return Replay(stream, expected, seq, std::move(payload));
      // Without them, removals may be missing: a stale entry misroutes, a missing one does not.
      if (stream.last) index->ClearRank(stream.slot, stream.rank);
    } else {
      stream.replays_in_a_row = 0;
    }
    Apply(stream, seq, payload);
  }

  // Asks for the batches from `from` on, holding the live batch that showed them missing.
  void Replay(Stream& stream, uint64_t from, uint64_t seq, zmq::message_t payload) {
    ++stream.replays_in_a_row;
    StartReplay(stream, from);
    if (stream.replaying) {
      stream.held.emplace_back(seq, std::move(payload));
    } else {
      Apply(stream, seq, payload);  // FailReplay cleared the endpoint
    }
  }

  void ReadLive(Stream& stream) {
    for (int n = 0; n < kMaxMessagesPerRound; ++n) {
      std::vector<zmq::message_t> frames;
      std::optional<size_t> got;
      try {
        got =
            zmq::recv_multipart(stream.sub, std::back_inserter(frames), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t&) {
        got.reset();
      }
      if (!got) return;
      std::optional<uint64_t> seq;
      if (frames.size() == 3) seq = DecodeKvEventSequence(Bytes(frames[1]));
      if (!seq) {
        counters.decode_errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      OnLive(stream, *seq, std::move(frames[2]));
    }
  }

  // Replies: ["", seq, payload] (vLLM ≤ 0.25) or ["", topic, seq, payload] (0.26+); the end
  // marker has seq all ones and an empty payload.
  void ReadReplay(Stream& stream) {
    for (int n = 0; n < kMaxMessagesPerRound && stream.dealer; ++n) {
      std::vector<zmq::message_t> frames;
      std::optional<size_t> got;
      try {
        got = zmq::recv_multipart(*stream.dealer, std::back_inserter(frames),
                                  zmq::recv_flags::dontwait);
      } catch (const zmq::error_t&) {
        got.reset();
      }
      if (!got) return;
      if (frames.size() != 3 && frames.size() != 4) {
        counters.decode_errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const size_t seq_frame = frames.size() - 2;
      std::optional<uint64_t> seq = DecodeKvEventSequence(Bytes(frames[seq_frame]));
      if (!seq) {
        counters.decode_errors.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (*seq == kKvReplayEnd) {
        FinishReplay(stream, /*failed=*/false);
        return;
      }
      if (!stream.replay_started) {
        stream.replay_started = true;
        // The engine's buffer no longer reaches back to what we asked for: those are lost.
        if (*seq > stream.replay_from && stream.replay_from != 0) {
          index->ClearRank(stream.slot, stream.rank);
        }
      }
      stream.replayed.Add(*seq, Bytes(frames.back()));
      if (!stream.last || *seq > *stream.last) Apply(stream, *seq, frames.back());
    }
  }

  void FailReplay(Stream& stream, std::string_view why) {
    spdlog::warn("kv events: replay from {} failed ({}); its entries are cleared",
                 stream.source.replay_url, why);
    counters.replay_failures.fetch_add(1, std::memory_order_relaxed);
    index->ClearRank(stream.slot, stream.rank);
    FinishReplay(stream, /*failed=*/true);
  }

  void FinishReplay(Stream& stream, bool failed) {
    if (!failed) counters.replays.fetch_add(1, std::memory_order_relaxed);
    stream.replaying = false;
    stream.dealer.reset();
    std::vector<std::pair<uint64_t, zmq::message_t>> held = std::move(stream.held);
    stream.held.clear();
    // The held batches came on the live stream; their numbering is the live stream's own.
    const std::optional<uint64_t> live_before = stream.live_last;
    stream.live_last.reset();
    if (live_before && !held.empty() && held.front().first > *live_before) {
      stream.live_last = live_before;
    }
    for (auto& [seq, payload] : held) OnLive(stream, seq, std::move(payload));
  }
};

KvEventSubscriber::KvEventSubscriber(std::function<KvEventTargets()> current,
                                     KvSubscriberOptions options)
    : current_(std::move(current)), options_(options) {}

KvEventSubscriber::~KvEventSubscriber() { Stop(); }

void KvEventSubscriber::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    // Signals (SIGTERM, SIGHUP) are the control thread's; here they would only interrupt polls.
    // (Faults stay unblocked: a crash here must still be reported.)
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD})
      sigaddset(&signals, signal);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    try {
      Impl impl(*this);
      impl.Run();
    } catch (const std::exception& e) {
      // A ZMQ context that cannot be made (no file descriptors): scoring falls back.
      spdlog::error("kv events: the subscriber stopped: {}", e.what());
    }
  });
}

void KvEventSubscriber::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace pdgate::discovery
