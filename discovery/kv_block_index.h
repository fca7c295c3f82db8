#pragma once
// Which endpoint holds which KV-cache block, learned from the engines' own KV events
// (kv_events.h) rather than guessed from request bytes.
//
// Blocks are keyed by pdgate's own chained hash of their token ids (engine block hashes are not
// reproducible: vLLM seeds them per process, research round2.md §A.4): the key of block i is
// XXH3-64 of its token ids (little-endian uint32) seeded with the key of block i-1, the first
// block seeded with XXH3-64 of the LoRA adapter's name ("" for the base model: an endpoint
// serves one). A request's token ids hash the same way, so its blocks are looked up directly.
// Per holder (endpoint, data-parallel rank, KV group) the engine's hash maps to the own key, for BlockRemoved and for chaining a BlockStored to its
// parent. Only full-attention groups on the GPU are indexed: that is what a new request can
// reuse at once. A block's extra keys (multimodal hashes, cache salt) are not part of its own
// key: two prompts with the same tokens and different images match (routing quality only).
//
// Bounded: at most `max_blocks` (holder, block) entries; past it the oldest stored go first.
// One writer (the event consumer), many readers (io threads): each reader locks only its own
// slot's mutex (io threads beyond the slot count share slots, and only wait on each other), and
// the writer takes every slot while it applies a batch.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "discovery/kv_events.h"

namespace pdgate::discovery {

// The chained own keys of `tokens`' full blocks, at most `max_blocks` of them.
std::vector<uint64_t> KvBlockKeys(std::string_view model, std::span<const uint32_t> tokens,
                                  uint32_t block_size, size_t max_blocks = SIZE_MAX);

struct KvBlockMatch {
  uint32_t endpoint = 0;  // LiveEndpoint::slot()
  uint32_t blocks = 0;    // leading blocks of the request it holds (its best rank)
};

struct KvIndexStats {
  size_t entries = 0;  // (holder, block) pairs held
  uint64_t stored = 0;
  uint64_t removed = 0;
  uint64_t evicted = 0;
  uint64_t orphaned = 0;  // stored blocks whose parent was never seen: not indexable
  uint64_t skipped = 0;   // other media, sliding-window groups, inconsistent events
};

class KvBlockIndex {
 public:
  KvBlockIndex(size_t max_blocks, size_t reader_slots);
  ~KvBlockIndex();
  KvBlockIndex(const KvBlockIndex&) = delete;
  KvBlockIndex& operator=(const KvBlockIndex&) = delete;

  // Writer side (one thread). `model`: the chain's root for blocks stored without a LoRA
  // adapter (pdgate's subscriber passes "").
  void Apply(uint32_t endpoint, std::string_view model, const KvEventBatch& batch);
  // An endpoint left, its engine restarted, or its events can no longer be trusted (a gap that
  // replay could not fill): forget every rank's blocks.
  void ClearEndpoint(uint32_t endpoint);
  // One data-parallel rank's publisher restarted or lost batches: forget that rank's blocks.
  void ClearRank(uint32_t endpoint, uint32_t rank);

  // Reader side: `reader` < reader_slots, one per io thread. The endpoints holding a prefix of
  // `keys`, longest first.
  void Match(size_t reader, std::span<const uint64_t> keys, std::vector<KvBlockMatch>& out) const;

  KvIndexStats stats() const;

 private:
  struct State;
  class WriteLock;
  std::unique_ptr<State> state_;
};

}  // namespace pdgate::discovery
