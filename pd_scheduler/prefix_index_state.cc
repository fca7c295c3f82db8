#include "pd_scheduler/prefix_index_state.h"

#include <algorithm>
#include <iterator>
#include <vector>

namespace pdgate::pd_scheduler::prefix_index_internal {

void IndexState::Forget(uint64_t hash, uint32_t slot) {
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

const Holder* IndexState::HolderOf(uint64_t hash, uint32_t slot) const {
  auto it = holders.find(hash);
  if (it == holders.end()) return nullptr;
  for (const Holder& holder : it->second) {
    if (holder.slot == slot) return &holder;
  }
  return nullptr;
}

void IndexState::Trim(uint32_t slot, Lru& order, size_t limit, size_t& second_chances) {
  // Each entry moves at most once per call: it ends unmarked.
  while (order.size() > limit) {
    LruEntry& oldest = order.back();
    if (oldest.used.load(std::memory_order_relaxed) && second_chances > 0) {
      --second_chances;
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

void IndexState::Remove(uint32_t slot) {
  capacity.erase(slot);
  if (auto it = lru.find(slot); it != lru.end()) {
    for (const LruEntry& entry : it->second) Forget(entry.hash, slot);
    lru.erase(it);
  }
  if (removed.insert(slot).second) {
    removed_order.push_back(slot);
    if (removed_order.size() > kRemovedSlotsKept) {
      removed.erase(removed_order.front());
      removed_order.pop_front();
    }
  }
}

void IndexState::Insert(std::span<const uint64_t> hashes, uint32_t slot, size_t bound) {
  if (removed.contains(slot)) return;
  Lru& order = lru[slot];
  // Blocks held already are marked used (a second chance, while the record has some); the others
  // are made room for among the older entries first, so the sweep never puts marked entries ahead
  // of them, then go in at the front, the first block last: the most recent, so eviction takes a
  // prefix's tail first.
  thread_local std::vector<uint64_t> missing;
  missing.clear();
  for (size_t k = hashes.size(); k-- > 0;) {
    if (const Holder* holder = HolderOf(hashes[k], slot)) {
      holder->position->used.store(true, std::memory_order_relaxed);
    } else {
      missing.push_back(hashes[k]);
    }
  }
  const size_t limit = LimitOf(slot, bound);
  size_t second_chances = kSecondChancesPerRecord;
  Trim(slot, order, limit - std::min(limit, missing.size()), second_chances);
  for (const uint64_t hash : missing) {
    order.emplace_front(hash);
    holders[hash].push_back({slot, order.begin()});
    ++entries;
  }
  Trim(slot, order, limit, second_chances);  // a record longer than the limit keeps its head
}

size_t IndexState::MarkHeld(std::span<const uint64_t> hashes, uint32_t slot) const {
  for (size_t k = 0; k < hashes.size(); ++k) {
    const Holder* holder = HolderOf(hashes[k], slot);
    if (holder == nullptr) return k;
    std::atomic<bool>& used = holder->position->used;
    if (!used.load(std::memory_order_relaxed)) used.store(true, std::memory_order_relaxed);
  }
  return hashes.size();
}

void IndexState::MatchHeld(std::span<const uint64_t> hashes, size_t top_k,
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
  LookupCounts& lookup_counts = counts[base::SlottedSharedMutex::ThreadSlot()];
  lookup_counts.lookups.fetch_add(1, std::memory_order_relaxed);
  lookup_counts.looked_up_blocks.fetch_add(hashes.size(), std::memory_order_relaxed);
  if (!out.empty()) {
    lookup_counts.matched_blocks.fetch_add(out[0].blocks, std::memory_order_relaxed);
  }
}

void IndexState::RoomOf(std::span<const uint32_t> slots, size_t bound,
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

size_t IndexState::LimitOf(uint32_t slot, size_t bound) const {
  auto it = capacity.find(slot);
  return it == capacity.end() ? bound : std::min(bound, it->second);
}

}  // namespace pdgate::pd_scheduler::prefix_index_internal
