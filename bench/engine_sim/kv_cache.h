#pragma once
// The KV cache: a pool of `num_blocks` blocks of `block_size` tokens with vLLM-style automatic
// prefix caching. A full prompt block is identified by a chained hash (xxh3 of the parent block's
// hash and this block's token ids), so a block hit implies the whole prefix before it matches.
// Blocks whose reference count drops to zero keep their hash and go to an LRU list of evictable
// blocks; allocation takes never-hashed free blocks first, then evicts the least recently freed
// cached block. As in vLLM, a block is freed tail-first so a prompt's last blocks are evicted
// before its shared prefix, and a full hit still recomputes the prompt's last token.
//
// Simplification (documented in README): a sequence reserves all the blocks it will ever need
// (prompt + planned output) at admission, so there is no preemption.
//
// With events recorded, the cache says what vLLM's block pool puts on its KV-event queue: a hash
// that becomes findable (BlockStored, with the blocks' token ids), a findable hash evicted for
// another allocation (BlockRemoved) and a reset (AllBlocksCleared). Only changes of what can be
// hit are told, so the stored hashes minus the removed ones are exactly the findable ones.
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bench/engine_sim/tokenizer.h"

namespace pdgate::sim {

struct KvCacheEvent {
  enum class Type { kBlockStored, kBlockRemoved, kAllBlocksCleared };
  Type type = Type::kBlockStored;
  std::vector<uint64_t> block_hashes;
  std::optional<uint64_t> parent_block_hash;  // BlockStored: nullopt when it starts at block 0
  std::vector<TokenId> token_ids;             // BlockStored: block_size per block
  std::string lora_name;                      // BlockStored: empty for the base model
};

class KvCache {
 public:
  KvCache(int num_blocks, int block_size, bool prefix_caching = true);

  // Chained hashes of the full blocks of `tokens`. `seed` starts the chain: vLLM mixes the LoRA
  // adapter into block hashes, so equal prompts on different adapters share nothing.
  static std::vector<uint64_t> BlockHashes(std::span<const TokenId> tokens, int block_size,
                                           uint64_t seed = 0);

  struct Allocation {
    std::vector<int> blocks;  // first `hit_blocks` are prefix-cache hits
    int hit_blocks = 0;
    int cached_tokens = 0;
  };

  int BlocksFor(int tokens) const { return (tokens + block_size_ - 1) / block_size_; }
  // Cached tokens a prompt would get now (no side effects).
  int CachedTokens(std::span<const uint64_t> hashes, int prompt_tokens) const;
  // Reserves blocks for `total_tokens`, reusing cached prefix blocks of the prompt. nullopt when
  // the pool cannot hold it now.
  std::optional<Allocation> Allocate(std::span<const uint64_t> hashes, int prompt_tokens,
                                     int total_tokens);
  // After the prompt was computed: its full blocks become findable by later prompts. `prompt` and
  // `lora` are only read for the BlockStored events.
  void Commit(const Allocation& allocation, std::span<const uint64_t> hashes,
              std::span<const TokenId> prompt = {}, std::string_view lora = {});
  void Free(const std::vector<int>& blocks);
  // Forgets every cached prefix (vLLM POST /reset_prefix_cache, SGLang /flush_cache): blocks in
  // use stay allocated but can no longer be hit.
  void ResetPrefixCache();

  // Events are kept (in order) from now on, until taken.
  void set_record_events(bool record) { record_events_ = record; }
  std::vector<KvCacheEvent> TakeEvents() { return std::exchange(events_, {}); }

  int num_blocks() const { return static_cast<int>(blocks_.size()); }
  int block_size() const { return block_size_; }
  int used_blocks() const { return used_; }
  int cached_blocks() const { return static_cast<int>(by_hash_.size()); }
  double usage() const { return blocks_.empty() ? 0.0 : double(used_) / double(blocks_.size()); }

 private:
  struct Block {
    int ref = 0;
    bool hashed = false;
    uint64_t hash = 0;
    std::list<int>::iterator lru;  // valid when ref == 0 and hashed
  };
  int HitBlocks(std::span<const uint64_t> hashes, int prompt_tokens) const;
  int TakeBlock();

  int block_size_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  std::vector<int> free_;     // never hashed (or hash evicted), ref 0
  std::list<int> evictable_;  // hashed, ref 0; front = least recently freed
  std::unordered_map<uint64_t, int> by_hash_;
  int used_ = 0;
  bool record_events_ = false;
  std::vector<KvCacheEvent> events_;
};

}  // namespace pdgate::sim
