#include "bench/engine_sim/kv_cache.h"

#include <xxhash.h>

#include <algorithm>
#include <cassert>

namespace pdgate::sim {

KvCache::KvCache(int num_blocks, int block_size, bool prefix_caching)
    : block_size_(std::max(block_size, 1)), prefix_caching_(prefix_caching) {
  blocks_.resize(static_cast<size_t>(std::max(num_blocks, 1)));
  free_.reserve(blocks_.size());
  for (int i = static_cast<int>(blocks_.size()) - 1; i >= 0; --i) free_.push_back(i);
}

std::vector<uint64_t> KvCache::BlockHashes(std::span<const TokenId> tokens, int block_size,
                                           uint64_t seed) {
  std::vector<uint64_t> hashes;
  const size_t full = tokens.size() / static_cast<size_t>(block_size);
  hashes.reserve(full);
  uint64_t parent = seed;
  for (size_t b = 0; b < full; ++b) {
    // Chained: the parent block's hash seeds this block's hash.
    parent =
        XXH3_64bits_withSeed(tokens.data() + b * block_size, block_size * sizeof(TokenId), parent);
    hashes.push_back(parent);
  }
  return hashes;
}

int KvCache::HitBlocks(std::span<const uint64_t> hashes, int prompt_tokens) const {
  if (!prefix_caching_ || prompt_tokens <= 0) return 0;
  // vLLM recomputes at least the last prompt token, so at most (prompt-1) tokens can hit.
  const int max_hit = (prompt_tokens - 1) / block_size_;
  int hits = 0;
  while (hits < max_hit && hits < static_cast<int>(hashes.size()) &&
         by_hash_.contains(hashes[hits])) {
    ++hits;
  }
  return hits;
}

int KvCache::CachedTokens(std::span<const uint64_t> hashes, int prompt_tokens) const {
  return HitBlocks(hashes, prompt_tokens) * block_size_;
}

int KvCache::TakeBlock() {
  if (!free_.empty()) {
    int id = free_.back();
    free_.pop_back();
    return id;
  }
  assert(!evictable_.empty());
  int id = evictable_.front();
  evictable_.pop_front();
  Block& block = blocks_[id];
  by_hash_.erase(block.hash);
  block.hashed = false;
  if (record_events_) {
    // vLLM's _maybe_evict_cached_block: one BlockRemoved per evicted block.
    KvCacheEvent& event = events_.emplace_back();
    event.type = KvCacheEvent::Type::kBlockRemoved;
    event.block_hashes.push_back(block.hash);
  }
  return id;
}

std::optional<KvCache::Allocation> KvCache::Allocate(std::span<const uint64_t> hashes,
                                                     int prompt_tokens, int total_tokens) {
  const int hits = HitBlocks(hashes, prompt_tokens);
  const int needed = std::max(BlocksFor(total_tokens), hits) - hits;
  int hits_evictable = 0;
  for (int i = 0; i < hits; ++i) {
    if (blocks_[by_hash_.at(hashes[i])].ref == 0) ++hits_evictable;
  }
  const int available = static_cast<int>(free_.size() + evictable_.size()) - hits_evictable;
  if (needed > available) return std::nullopt;

  Allocation allocation;
  allocation.hit_blocks = hits;
  allocation.cached_tokens = hits * block_size_;
  allocation.blocks.reserve(static_cast<size_t>(hits + needed));
  for (int i = 0; i < hits; ++i) {
    int id = by_hash_.at(hashes[i]);
    Block& block = blocks_[id];
    if (block.ref++ == 0) {
      evictable_.erase(block.lru);
      ++used_;
    }
    allocation.blocks.push_back(id);
  }
  for (int i = 0; i < needed; ++i) {
    int id = TakeBlock();
    blocks_[id].ref = 1;
    ++used_;
    allocation.blocks.push_back(id);
  }
  return allocation;
}

void KvCache::Commit(const Allocation& allocation, std::span<const uint64_t> hashes,
                     std::span<const TokenId> prompt, std::string_view lora) {
  if (!prefix_caching_) return;
  const size_t n = std::min(hashes.size(), allocation.blocks.size());
  KvCacheEvent* run = nullptr;  // the BlockStored being extended while stored blocks follow
  for (size_t i = static_cast<size_t>(allocation.hit_blocks); i < n; ++i) {
    Block& block = blocks_[allocation.blocks[i]];
    if (block.hashed || by_hash_.contains(hashes[i])) {
      run = nullptr;  // another sequence stored this prefix first: nothing new to tell
      continue;
    }
    block.hashed = true;
    block.hash = hashes[i];
    by_hash_.emplace(hashes[i], allocation.blocks[i]);
    if (!record_events_) continue;
    if (run == nullptr) {
      KvCacheEvent& event = events_.emplace_back();
      event.type = KvCacheEvent::Type::kBlockStored;
      if (i > 0) event.parent_block_hash = hashes[i - 1];
      event.lora_name = std::string(lora);
      run = &event;
    }
    run->block_hashes.push_back(hashes[i]);
    const size_t begin = std::min(i * static_cast<size_t>(block_size_), prompt.size());
    const size_t end = std::min(begin + static_cast<size_t>(block_size_), prompt.size());
    run->token_ids.insert(run->token_ids.end(), prompt.begin() + begin, prompt.begin() + end);
  }
}

void KvCache::Free(const std::vector<int>& blocks) {
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    Block& block = blocks_[*it];
    assert(block.ref > 0);
    if (--block.ref > 0) continue;
    --used_;
    if (block.hashed) {
      block.lru = evictable_.insert(evictable_.end(), *it);
    } else {
      free_.push_back(*it);
    }
  }
}

void KvCache::ResetPrefixCache() {
  for (int id : evictable_) free_.push_back(id);
  evictable_.clear();
  for (Block& block : blocks_) block.hashed = false;
  by_hash_.clear();
  if (record_events_) events_.emplace_back().type = KvCacheEvent::Type::kAllBlocksCleared;
}

}  // namespace pdgate::sim
