#pragma once
// Router-side approximate prefix index: which endpoints recently served which prompt prefixes.
//
// A prompt is cut into fixed-size byte blocks and hashed as a chain (xxHash3, each block seeded
// with the previous block's hash, the first with the model's), so a block's hash names the whole
// prefix up to it. After a successful leg the endpoint is recorded as holding each block hash;
// a pick walks the request's hashes from the first block and an endpoint's match is the last
// block it holds. Bytes rather than tokens: no tokenizer on the hot path (Kthena, SGLang's
// router and llm-d's approximate scorer do the same); the cost is that chat templates shift
// token boundaries, which matters only for the last partial block.
//
// Bounded: each endpoint keeps at most `max_entries_per_endpoint` hashes in LRU order (Kthena's
// maxHashCacheSize), so memory stays flat under any load. When an engine's cache size is known
// (SetCapacity), its endpoint keeps no more blocks than that cache holds: the index forgets, in
// the same LRU order, what the engine must have evicted, and tells how much room is left.
//
// Every io thread looks the index up and records into it per request, so neither writes a cache
// line that other threads write: the lock's readers count on lines of their own threads
// (base::SlottedSharedMutex), a pick's room and match are one read, and recording blocks the
// endpoint already holds is a read too: it marks them used (a flag, written only when not yet
// set) instead of moving them in the LRU list. Eviction gives a block marked used a second
// chance (moves it to the front and clears its mark): CLOCK, close to the LRU order of use;
// up to 1,024 second chances per record, so no write sweeps a whole list (past them, the oldest
// go, marked or not).
// Only blocks new to an endpoint take the lock for writing, and one thread writes at a time
// without making the others wait: a thread that finds another writing hands its record over,
// and the writer writes it before letting go (flat combining, prefix_index_state.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/slotted_shared_mutex.h"

namespace pdgate::pd_scheduler {

namespace prefix_index_internal {
struct IndexState;
}  // namespace prefix_index_internal

// Chained block hashes of `prompt`'s full blocks of `block_bytes`, at most `max_blocks`.
std::vector<uint64_t> HashPromptBlocks(std::string_view model, std::string_view prompt,
                                       size_t block_bytes, size_t max_blocks);

struct PrefixMatch {
  uint32_t slot = 0;    // LiveEndpoint::slot()
  uint32_t blocks = 0;  // leading blocks this endpoint holds
};

struct PrefixIndexStats {
  size_t entries = 0;  // (endpoint, block) pairs held
  uint64_t evictions = 0;
  uint64_t lookups = 0;
  uint64_t looked_up_blocks = 0;  // blocks asked for, over all lookups
  uint64_t matched_blocks = 0;    // of those, the longest match found per lookup
  uint64_t handed_records = 0;    // records written by another thread than their own
};

struct EndpointBlocks {
  size_t held = 0;
  int64_t capacity =
      -1;  // the engine's cache in blocks (may exceed the index's bound); -1: not known
};

class PrefixIndex {
 public:
  explicit PrefixIndex(size_t max_entries_per_endpoint);
  ~PrefixIndex();
  PrefixIndex(const PrefixIndex&) = delete;
  PrefixIndex& operator=(const PrefixIndex&) = delete;

  // The endpoints holding a prefix of `hashes`, longest first, at most `top_k` of them.
  void Match(std::span<const uint64_t> hashes, size_t top_k, std::vector<PrefixMatch>& out) const;
  // Room (of `slots`, into `room`) and Match (into `matches`) under one read of the lock.
  void Lookup(std::span<const uint32_t> slots, std::span<const uint64_t> hashes, size_t top_k,
              std::vector<int64_t>& room, std::vector<PrefixMatch>& matches) const;
  void Record(std::span<const uint64_t> hashes, uint32_t slot);
  void RemoveEndpoint(uint32_t slot);
  // The engine behind `slot` holds about `entries` blocks (0: not known; the index's own bound
  // applies). Entries beyond it are forgotten, oldest first.
  void SetCapacity(uint32_t slot, size_t entries);
  // Per slot in `slots`: the blocks its engine can still take before evicting, or -1 when its
  // capacity is not known or larger than the index's own bound.
  void Room(std::span<const uint32_t> slots, std::vector<int64_t>& out) const;
  PrefixIndexStats stats() const;
  EndpointBlocks Blocks(uint32_t slot) const;

 private:
  using State = prefix_index_internal::IndexState;
  // Holding the turn to write: writes `hashes` (may be empty) and the records handed over, then
  // gives the turn back.
  void WriteInTurn(std::span<const uint64_t> hashes, uint32_t slot) const;
  // Takes the turn while records wait for one, a few times at most.
  void WriteHandedRecords() const;

  const size_t capacity_;
  mutable base::SlottedSharedMutex mutex_;
  std::unique_ptr<State> state_;
};

}  // namespace pdgate::pd_scheduler
