#pragma once
// What a replay delivered, kept until the live stream delivers its first batch. That batch may
// carry a number a replay already applied: either it is the live copy of that batch (the replay
// and the live stream overlapped), or the engine restarted and its new numbering reached that
// number again. The numbers alone cannot tell; the bytes can. The hash of the batch applied last
// also lets the subscriber ask the engine whether it still holds that batch (a restart whose
// first batches were lost can continue the old numbering).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace pdgate::discovery {

class ReplayedBatches {
 public:
  void Clear() { batches_.clear(); }

  void Add(uint64_t seq, std::span<const uint8_t> payload) {
    // The live copies that overlap a replay are of its last batches: keep the newest.
    if (batches_.size() == kMaxBatches) {
      batches_.erase(batches_.begin(), batches_.begin() + ptrdiff_t(kMaxBatches / 2));
    }
    batches_.emplace_back(seq, Hash(payload));
  }

  // Whether a replay delivered batch `seq` with these bytes.
  bool Holds(uint64_t seq, std::span<const uint8_t> payload) const {
    const size_t hash = Hash(payload);
    for (const auto& [kept_seq, kept_hash] : batches_) {
      if (kept_seq == seq && kept_hash == hash) return true;
    }
    return false;
  }

  // The hash of the bytes a replay delivered as batch `seq` (the newest such), if it did.
  std::optional<size_t> HashOf(uint64_t seq) const {
    for (auto it = batches_.rbegin(); it != batches_.rend(); ++it) {
      if (it->first == seq) return it->second;
    }
    return std::nullopt;
  }

  static size_t Hash(std::span<const uint8_t> payload) {
    return std::hash<std::string_view>()(
        std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
  }

 private:
  static constexpr size_t kMaxBatches = 4096;

  std::vector<std::pair<uint64_t, size_t>> batches_;  // number, hash of the bytes
};

}  // namespace pdgate::discovery
