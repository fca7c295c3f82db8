#include "pd_scheduler/prefix_index.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <shared_mutex>

namespace pdgate::pd_scheduler {

std::vector<uint64_t> HashPromptBlocks(std::string_view model, std::string_view prompt,
                                       size_t block_bytes, size_t max_blocks) {
  std::vector<uint64_t> hashes;
  if (block_bytes == 0) return hashes;
  const size_t blocks = std::min(prompt.size() / block_bytes, max_blocks);
  hashes.reserve(blocks);
  uint64_t previous = XXH3_64bits(model.data(), model.size());
  for (size_t i = 0; i < blocks; ++i) {
    previous = XXH3_64bits_withSeed(prompt.data() + i * block_bytes, block_bytes, previous);
    hashes.push_back(previous);
  }
  return hashes;
}

namespace {

// One endpoint's blocks, most recent first. `used`: recorded again since the block was put in
// its place; written under the shared lock, by any thread, hence atomic.
struct LruEntry {
  explicit LruEntry(uint64_t h) : hash(h) {}
  uint64_t hash;
  mutable std::atomic<bool> used{false};
};
using Lru = std::list<LruEntry>;

struct Holder {
  uint32_t slot;
  Lru::iterator position;  // in that endpoint's Lru
};

}  // namespace

struct PrefixIndex::State {
  absl::flat_hash_map<uint64_t, absl::InlinedVector<Holder, 2>> holders;
  absl::flat_hash_map<uint32_t, Lru> lru;
  absl::flat_hash_map<uint32_t, size_t> capacity;  // slots whose engine's cache size is known
  size_t entries = 0;
  uint64_t evictions = 0;
  // Lookups run under the shared lock, on every io thread: each thread counts on a cache line
  // of its own (threads past kCountShards share lines, atomically as all do), so the counts
  // add no line that every pick writes.
  struct alignas(64) LookupCounts {
    std::atomic<uint64_t> lookups{0}, looked_up_blocks{0}, matched_blocks{0};
  };
  static constexpr size_t kCountShards = 8;
  mutable std::array<LookupCounts, kCountShards> counts;
  static size_t CountShard() {
    static std::atomic<size_t> next_thread{0};
    thread_local const size_t shard = next_thread.fetch_add(1) % kCountShards;
    return shard;
  }

  // Drops `slot` from `hash`'s holders (and the hash when nobody holds it).
  void Forget(uint64_t hash, uint32_t slot) {
    auto it = holders.find(hash);
    if (it == holders.end()) return;
    auto& list = it->second;
    for (size_t i = 0; i < list.size(); ++i) {
      if (list[i].slot != slot) continue;
      list.erase(list.begin() + ptrdiff_t(i));
      --entries;
      break;
    }
    if (list.empty()) holders.erase(it);
  }

  // Forgets `slot`'s oldest entries beyond `limit`; an entry used since it was put in its place
  // goes to the front instead, unmarked (each entry at most once per call: it ends unmarked).
  void Trim(uint32_t slot, Lru& order, size_t limit) {
    while (order.size() > limit) {
      LruEntry& oldest = order.back();
      if (oldest.used.load(std::memory_order_relaxed)) {
        oldest.used.store(false, std::memory_order_relaxed);
        order.splice(order.begin(), order, std::prev(order.end()));
        continue;
      }
      const uint64_t hash = oldest.hash;
      order.pop_back();
      Forget(hash, slot);
      ++evictions;
    }
  }

  // Marks `slot`'s entries of `hashes` used; false when one of them is not held (nothing marked
  // from there on). Under the shared lock: a mark already set is not written again.
  bool MarkHeld(std::span<const uint64_t> hashes, uint32_t slot) const {
    for (const uint64_t hash : hashes) {
      auto it = holders.find(hash);
      if (it == holders.end()) return false;
      const Holder* holder = nullptr;
      for (const Holder& h : it->second) {
        if (h.slot == slot) holder = &h;
      }
      if (holder == nullptr) return false;
      std::atomic<bool>& used = holder->position->used;
      if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
    }
    return true;
  }

  void MatchHeld(std::span<const uint64_t> hashes, size_t top_k,
                 std::vector<PrefixMatch>& out) const;
  void RoomOf(std::span<const uint32_t> slots, size_t bound, std::vector<int64_t>& out) const;
};

namespace {

size_t LimitOf(const absl::flat_hash_map<uint32_t, size_t>& capacity, uint32_t slot,
               size_t fallback) {
  auto it = capacity.find(slot);
  return it == capacity.end() ? fallback : std::min(fallback, it->second);
}

}  // namespace

PrefixIndex::PrefixIndex(size_t max_entries_per_endpoint)
    : capacity_(std::max<size_t>(1, max_entries_per_endpoint)), state_(std::make_unique<State>()) {}

PrefixIndex::~PrefixIndex() = default;

void PrefixIndex::State::MatchHeld(std::span<const uint64_t> hashes, size_t top_k,
                                   std::vector<PrefixMatch>& out) const {
  out.clear();
  if (hashes.empty()) return;
  // Walk forward: a prefix chain breaks at the first block nobody holds.
  for (size_t j = 0; j < hashes.size(); ++j) {
    auto it = holders.find(hashes[j]);
    if (it == holders.end()) break;
    for (const Holder& holder : it->second) {
      auto match = std::find_if(out.begin(), out.end(),
                                [&](const PrefixMatch& m) { return m.slot == holder.slot; });
      if (match == out.end()) {
        out.push_back({holder.slot, uint32_t(j + 1)});
      } else {
        match->blocks = uint32_t(j + 1);
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PrefixMatch& a, const PrefixMatch& b) { return a.blocks > b.blocks; });
  if (out.size() > top_k) out.resize(top_k);
  LookupCounts& lookup_counts = counts[CountShard()];
  lookup_counts.lookups.fetch_add(1, std::memory_order_relaxed);
  lookup_counts.looked_up_blocks.fetch_add(hashes.size(), std::memory_order_relaxed);
  if (!out.empty()) {
    lookup_counts.matched_blocks.fetch_add(out[0].blocks, std::memory_order_relaxed);
  }
}

void PrefixIndex::Match(std::span<const uint64_t> hashes, size_t top_k,
                        std::vector<PrefixMatch>& out) const {
  if (hashes.empty()) {
    out.clear();
    return;
  }
  std::shared_lock lock(mutex_);
  state_->MatchHeld(hashes, top_k, out);
}

void PrefixIndex::Lookup(std::span<const uint32_t> slots, std::span<const uint64_t> hashes,
                         size_t top_k, std::vector<int64_t>& room,
                         std::vector<PrefixMatch>& matches) const {
  room.assign(slots.size(), -1);
  std::shared_lock lock(mutex_);
  state_->RoomOf(slots, capacity_, room);
  state_->MatchHeld(hashes, top_k, matches);
}

void PrefixIndex::Record(std::span<const uint64_t> hashes, uint32_t slot) {
  if (hashes.empty()) return;
  {
    // The usual case under a shared prompt: the endpoint holds every block already.
    std::shared_lock shared(mutex_);
    if (state_->MarkHeld(hashes, slot)) return;
  }
  std::unique_lock lock(mutex_);
  State& s = *state_;
  Lru& lru = s.lru[slot];
  // The first block last, so it is the most recent: eviction takes a prefix's tail first and
  // a chain never loses its head before its tail.
  for (size_t k = hashes.size(); k-- > 0;) {
    const uint64_t hash = hashes[k];
    auto& list = s.holders[hash];
    auto holder =
        std::find_if(list.begin(), list.end(), [slot](const Holder& h) { return h.slot == slot; });
    if (holder != list.end()) {
      lru.splice(lru.begin(), lru, holder->position);
      holder->position->used.store(false, std::memory_order_relaxed);  // in its place now
      continue;
    }
    lru.emplace_front(hash);
    list.push_back({slot, lru.begin()});
    ++s.entries;
  }
  s.Trim(slot, lru, LimitOf(s.capacity, slot, capacity_));
}

void PrefixIndex::SetCapacity(uint32_t slot, size_t entries) {
  {
    // Called for every endpoint on every scrape: the same size takes no write lock.
    std::shared_lock shared(mutex_);
    auto it = state_->capacity.find(slot);
    if (entries == 0 ? it == state_->capacity.end()
                     : it != state_->capacity.end() && it->second == entries) {
      return;
    }
  }
  std::unique_lock lock(mutex_);
  State& s = *state_;
  if (entries == 0) {
    s.capacity.erase(slot);
    return;
  }
  s.capacity[slot] = entries;
  auto it = s.lru.find(slot);
  if (it != s.lru.end()) s.Trim(slot, it->second, LimitOf(s.capacity, slot, capacity_));
}

void PrefixIndex::State::RoomOf(std::span<const uint32_t> slots, size_t bound,
                                std::vector<int64_t>& out) const {
  if (capacity.empty()) return;
  for (size_t k = 0; k < slots.size(); ++k) {
    auto size = capacity.find(slots[k]);
    // An engine larger than the index's own bound: the index, not the engine, runs out first.
    if (size == capacity.end() || size->second > bound) continue;
    auto it = lru.find(slots[k]);
    const size_t held = it == lru.end() ? 0 : it->second.size();
    out[k] = int64_t(size->second) - int64_t(held);
  }
}

void PrefixIndex::Room(std::span<const uint32_t> slots, std::vector<int64_t>& out) const {
  out.assign(slots.size(), -1);
  std::shared_lock lock(mutex_);
  state_->RoomOf(slots, capacity_, out);
}

void PrefixIndex::RemoveEndpoint(uint32_t slot) {
  std::unique_lock lock(mutex_);
  State& s = *state_;
  s.capacity.erase(slot);
  auto it = s.lru.find(slot);
  if (it == s.lru.end()) return;
  for (const LruEntry& entry : it->second) s.Forget(entry.hash, slot);
  s.lru.erase(it);
}

EndpointBlocks PrefixIndex::Blocks(uint32_t slot) const {
  std::shared_lock lock(mutex_);
  const State& s = *state_;
  EndpointBlocks blocks;
  if (auto it = s.lru.find(slot); it != s.lru.end()) blocks.held = it->second.size();
  if (auto it = s.capacity.find(slot); it != s.capacity.end())
    blocks.capacity = int64_t(it->second);
  return blocks;
}

PrefixIndexStats PrefixIndex::stats() const {
  std::shared_lock lock(mutex_);
  PrefixIndexStats stats;
  stats.entries = state_->entries;
  stats.evictions = state_->evictions;
  for (const State::LookupCounts& counts : state_->counts) {
    stats.lookups += counts.lookups.load(std::memory_order_relaxed);
    stats.looked_up_blocks += counts.looked_up_blocks.load(std::memory_order_relaxed);
    stats.matched_blocks += counts.matched_blocks.load(std::memory_order_relaxed);
  }
  return stats;
}

}  // namespace pdgate::pd_scheduler
