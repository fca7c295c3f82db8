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
#include "discovery/kv_event_subscriber_impl.h"

namespace pdgate::discovery {

using kv_subscriber_internal::Bytes;
using kv_subscriber_internal::kMaxMessagesPerRound;
using kv_subscriber_internal::kMaxReplaysInARow;

void KvEventSubscriber::Impl::Run() {
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

void KvEventSubscriber::Impl::Reconcile(KvEventTargets targets) {
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

void KvEventSubscriber::Impl::Open(uint32_t slot, Source source) {
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

void KvEventSubscriber::Impl::Apply(Stream& stream, uint64_t seq, const zmq::message_t& payload) {
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

bool KvEventSubscriber::Impl::MayReplay(const Stream& stream) const {
  return !stream.source.replay_url.empty() && stream.replays_in_a_row < kMaxReplaysInARow;
}

void KvEventSubscriber::Impl::OnLive(Stream& stream, uint64_t seq, zmq::message_t payload) {
  if (stream.replaying) {
    if (stream.held.size() < owner.options_.max_held_batches) {
      counters.held_batches.fetch_add(1, std::memory_order_relaxed);
      stream.held.emplace_back(seq, std::move(payload));
      return;
    }
    FailReplay(stream, "too many live batches meanwhile");
    // The held batches it handed back may have asked another replay: this one waits behind them.
    if (stream.replaying) {
      counters.held_batches.fetch_add(1, std::memory_order_relaxed);
      stream.held.emplace_back(seq, std::move(payload));
      return;
    }
  }
  const bool restarted = stream.live_last ? seq <= *stream.live_last
                                          : stream.last && seq <= *stream.last &&
                                                !stream.replayed.Holds(seq, Bytes(payload));
  std::optional<size_t> applied_last;  // the bytes of the replayed batch to check, if any
  if (!stream.live_last && stream.last && seq > *stream.last) {
    applied_last = stream.replayed.HashOf(*stream.last);
  }
  stream.live_last = seq;
  stream.replayed.Clear();  // only the first live batch needs it
  if (restarted) {
    ForgetRestarted(stream);
    // replays_in_a_row is not reset: restarts seen one after another must not ask replays
    // without end (MayReplay).
    // The new process may have published before we saw it: its buffer has those.
    if (seq > 0 && MayReplay(stream)) return Replay(stream, 0, seq, std::move(payload));
    return Apply(stream, seq, payload);
  }
  if (stream.last && seq <= *stream.last) return;  // a replay applied it already
  const uint64_t expected = stream.last ? *stream.last + 1 : 0;
  if (applied_last && MayReplay(stream)) {
    if (seq != expected) counters.gaps.fetch_add(1, std::memory_order_relaxed);
    // From `last`, not `last + 1`: the answer opens with that batch (ReadReplay compares it).
    Replay(stream, *stream.last, seq, std::move(payload));
    if (stream.replaying) stream.verify = applied_last;
    return;
  }
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

void KvEventSubscriber::Impl::Replay(Stream& stream, uint64_t from, uint64_t seq,
                                     zmq::message_t payload) {
  ++stream.replays_in_a_row;
  StartReplay(stream, from);
  if (stream.replaying) {
    stream.held.emplace_back(seq, std::move(payload));
  } else {
    Apply(stream, seq, payload);  // FailReplay cleared the endpoint
  }
}

void KvEventSubscriber::Impl::ReadLive(Stream& stream) {
  for (int n = 0; n < kMaxMessagesPerRound; ++n) {
    std::vector<zmq::message_t> frames;
    std::optional<size_t> got;
    try {
      got = zmq::recv_multipart(stream.sub, std::back_inserter(frames), zmq::recv_flags::dontwait);
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
