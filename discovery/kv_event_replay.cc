#include <spdlog/spdlog.h>

#include <array>
#include <iterator>
#include <zmq_addon.hpp>

#include "discovery/kv_event_subscriber_impl.h"

namespace pdgate::discovery {

using kv_subscriber_internal::Bytes;
using kv_subscriber_internal::kMaxMessagesPerRound;

void KvEventSubscriber::Impl::StartReplay(Stream& stream, uint64_t from) {
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
    stream.verify.reset();
    stream.replaying = true;
    stream.replay_started = false;
    stream.replay_from = from;
    stream.replay_deadline = Clock::now() + owner.options_.replay_timeout;
  } catch (const zmq::error_t& e) {
    FailReplay(stream, e.what());
  }
}

void KvEventSubscriber::Impl::ReadReplay(Stream& stream) {
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
      // A check that brought no batch: the engine no longer holds the one applied last.
      if (stream.verify && RestartedUnderReplay(stream)) return;
      FinishReplay(stream, /*failed=*/false);
      return;
    }
    if (!stream.replay_started) {
      stream.replay_started = true;
      if (stream.verify) {
        const bool same = *seq == stream.replay_from &&
                          ReplayedBatches::Hash(Bytes(frames.back())) == *stream.verify;
        if (!same && RestartedUnderReplay(stream)) return;
        stream.verify.reset();
      } else if (*seq > stream.replay_from && stream.replay_from != 0) {
        // The engine's buffer no longer reaches back to what we asked for: those are lost.
        index->ClearRank(stream.slot, stream.rank);
      }
    }
    stream.replayed.Add(*seq, Bytes(frames.back()));
    if (!stream.last || *seq > *stream.last) Apply(stream, *seq, frames.back());
  }
}

bool KvEventSubscriber::Impl::RestartedUnderReplay(Stream& stream) {
  stream.verify.reset();
  ForgetRestarted(stream);
  stream.live_last.reset();
  if (stream.replay_from == 0 || !MayReplay(stream)) return false;
  ++stream.replays_in_a_row;  // counted, as every replay asked in a row: MayReplay ends a chain
  StartReplay(stream, 0);     // the live batches held meanwhile stay held
  return true;
}

void KvEventSubscriber::Impl::ForgetRestarted(Stream& stream) {
  counters.restarts.fetch_add(1, std::memory_order_relaxed);
  index->ClearRank(stream.slot, stream.rank);
  stream.last.reset();
}

void KvEventSubscriber::Impl::FailReplay(Stream& stream, std::string_view why) {
  spdlog::warn("kv events: replay from {} failed ({}); its entries are cleared",
               stream.source.replay_url, why);
  counters.replay_failures.fetch_add(1, std::memory_order_relaxed);
  index->ClearRank(stream.slot, stream.rank);
  FinishReplay(stream, /*failed=*/true);
}

void KvEventSubscriber::Impl::FinishReplay(Stream& stream, bool failed) {
  if (!failed) counters.replays.fetch_add(1, std::memory_order_relaxed);
  stream.replaying = false;
  stream.verify.reset();
  stream.dealer.reset();
  std::vector<std::pair<uint64_t, zmq::message_t>> held = std::move(stream.held);
  stream.held.clear();
  if (!failed && stream.replay_from == 0 && stream.last) {
    // A held batch at or below what a replay from 0 applied, that the replay did not deliver
    // with the same bytes, is older than the engine's buffer or a previous process's: no news of
    // a restart (taken as one, it would ask from 0 again and find the same answer, forever).
    std::erase_if(held, [&](const std::pair<uint64_t, zmq::message_t>& batch) {
      return batch.first <= *stream.last &&
             !stream.replayed.Holds(batch.first, Bytes(batch.second));
    });
  }
  // The held batches came on the live stream; their numbering is the live stream's own.
  const std::optional<uint64_t> live_before = stream.live_last;
  stream.live_last.reset();
  if (live_before && !held.empty() && held.front().first > *live_before) {
    stream.live_last = live_before;
  }
  for (auto& [seq, payload] : held) OnLive(stream, seq, std::move(payload));
}

}  // namespace pdgate::discovery
