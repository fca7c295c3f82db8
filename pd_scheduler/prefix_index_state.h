#pragma once
// PrefixIndex's data, behind its lock (pd_scheduler/prefix_index.cc), and the records other
// threads hand to the thread that is writing. Not for other users.
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/container/inlined_vector.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <span>
#include <vector>

#include "base/slotted_shared_mutex.h"
#include "pd_scheduler/prefix_index.h"

namespace pdgate::pd_scheduler::prefix_index_internal {

// One endpoint's block, in its LRU list. `used`: recorded again since it was put in its place;
// set under the shared lock, by any thread, hence atomic.
struct LruEntry {
  explicit LruEntry(uint64_t h) : hash(h) {}
  uint64_t hash;
  mutable std::atomic<bool> used{false};
};
using Lru = std::list<LruEntry>;  // most recent first

struct Holder {
  uint32_t slot;
  Lru::iterator position;  // in that endpoint's Lru
};

// A record a thread could not write because another thread was writing: that thread writes it
// before it lets go (flat combining), so no io thread waits for another's write.
struct HandedRecord {
  uint32_t slot;
  std::vector<uint64_t> hashes;
};

struct IndexState {
  absl::flat_hash_map<uint64_t, absl::InlinedVector<Holder, 2>> holders;
  absl::flat_hash_map<uint32_t, Lru> lru;
  absl::flat_hash_map<uint32_t, size_t> capacity;  // slots whose engine's cache size is known
  size_t entries = 0;
  uint64_t evictions = 0;
  // Slots removed lately (slots are never reused): a record of one that comes later (it waited
  // in the hand-off, queued or in the writer's batch) is dropped, not kept as an LRU list nobody
  // removes. (A leg's own record cannot come late: its request pins the endpoint, and the
  // scraper prunes only endpoints no snapshot holds.) The most recent kRemovedSlotsKept only:
  // memory stays bounded.
  static constexpr size_t kRemovedSlotsKept = 4096;
  absl::flat_hash_set<uint32_t> removed;
  std::deque<uint32_t> removed_order;

  // Lookups run under the shared lock on every io thread: each thread counts on the cache line
  // of its lock slot, so the counts add no line that every pick writes.
  struct alignas(64) LookupCounts {
    std::atomic<uint64_t> lookups{0}, looked_up_blocks{0}, matched_blocks{0};
  };
  mutable std::array<LookupCounts, base::SlottedSharedMutex::kSlots> counts;

  // The hand-off: `writing` is the turn to write; `handed` counts records in `queue` (it may go
  // below zero for a moment: a record is counted after it is queued).
  // On lines of their own: `writing` changes with every record of new blocks, `handed` (read by
  // every lookup) only when records are handed over.
  alignas(64) std::atomic<bool> writing{false};
  alignas(64) std::atomic<int64_t> handed{0};
  std::atomic<uint64_t> handed_total{0};  // for stats
  alignas(64) std::mutex queue_mutex;
  std::vector<HandedRecord> queue;

  // `slot`'s entry of `hash`, or null when it does not hold it.
  const Holder* HolderOf(uint64_t hash, uint32_t slot) const;
  // Drops `slot` from `hash`'s holders (and the hash when nobody holds it).
  void Forget(uint64_t hash, uint32_t slot);
  // Forgets `slot`'s oldest entries beyond `limit`; an entry used since it was put in its place
  // goes to the front instead, unmarked, while `second_chances` lasts (then the oldest go, used
  // or not: a record never sweeps a whole list under the write lock; it may then evict a hot
  // block, or split a prompt). A record has kSecondChancesPerRecord for all its passes.
  // Removing an endpoint or shrinking its capacity is not bounded (rare, and what they must do).
  static constexpr size_t kSecondChancesPerRecord = 1024;
  void Trim(uint32_t slot, Lru& order, size_t limit, size_t& second_chances);
  // Forgets everything `slot` holds, and remembers it was removed.
  void Remove(uint32_t slot);
  // Under the exclusive lock: `slot` holds `hashes`. Blocks it holds are marked used, the others
  // go in at the front, the first of them the most recent. A removed slot's record is dropped.
  void Insert(std::span<const uint64_t> hashes, uint32_t slot, size_t bound);
  // Under the shared lock: marks `slot`'s entries of `hashes` used, from the first, up to the
  // first block it does not hold; returns how many it marked. A mark already set is not written
  // again.
  size_t MarkHeld(std::span<const uint64_t> hashes, uint32_t slot) const;
  void MatchHeld(std::span<const uint64_t> hashes, size_t top_k,
                 std::vector<PrefixMatch>& out) const;
  void RoomOf(std::span<const uint32_t> slots, size_t bound, std::vector<int64_t>& out) const;
  size_t LimitOf(uint32_t slot, size_t bound) const;
};

}  // namespace pdgate::pd_scheduler::prefix_index_internal
