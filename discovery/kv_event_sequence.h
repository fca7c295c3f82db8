#pragma once
// What a KV-event batch's sequence number says about the stream it came on (one publisher: an
// engine's data-parallel rank). vLLM numbers batches from 0 per publisher process, so:
//   next expected     → apply it;
//   ahead of expected → batches were lost (send high-water mark, reconnect): apply it, and ask
//                       the replay socket for the missing ones (or resync when there is none);
//   not ahead         → the publisher restarted: its old blocks are gone, clear, then apply.
// Plain logic: the subscriber owns one per stream and acts on the verdict. Only live batches
// go through Next: replayed ones (and the replay's end marker) are numbered below what the live
// stream has seen and would read as a restart. A reconnect calls Reset: a publisher that
// restarted meanwhile may already be past the old numbers, so its blocks are cleared then too.
#include <cstdint>
#include <optional>

namespace pdgate::discovery {

enum class KvSequenceVerdict { kInOrder, kGap, kRestart };

class KvEventSequence {
 public:
  // A first batch numbered above 0 is a gap from 0: the subscriber joined late.
  KvSequenceVerdict Next(uint64_t seq) {
    const uint64_t expected = last_ ? *last_ + 1 : 0;
    const bool restarted = last_ && seq <= *last_;
    last_ = seq;
    if (restarted) return KvSequenceVerdict::kRestart;
    if (seq == expected) return KvSequenceVerdict::kInOrder;
    missing_from_ = expected;
    return KvSequenceVerdict::kGap;
  }
  // The first sequence missing before the batch that reported a gap (the replay's start).
  uint64_t missing_from() const { return missing_from_; }
  std::optional<uint64_t> last() const { return last_; }
  void Reset() { last_.reset(); }

 private:
  std::optional<uint64_t> last_;
  uint64_t missing_from_ = 0;
};

}  // namespace pdgate::discovery
