#pragma once
// vLLM's KV-cache EventBatch as msgpack (shared/research round2.md §A.3), in the two encodings
// consumers meet:
//   - array (vLLM <= 0.25, msgspec array_like): [ts, [event...], data_parallel_rank] with each
//     event a tagged array of its fields by position, trailing defaults left out:
//     ["BlockStored", block_hashes, parent_block_hash, token_ids, block_size, lora_id, medium,
//     lora_name], ["BlockRemoved", block_hashes, medium], ["AllBlocksCleared"];
//   - map (vLLM 0.26+, #42892): the same outer array, each event a map whose first key is "type"
//     and then every field by name, as captured from vLLM 0.26 (volcano-sh/kthena#1535):
//     BlockStored also carries extra_keys (nil per block), group_idx 0 and kv_cache_spec_kind
//     "full_attention".
// Hashes are the simulator's own 64-bit chained hashes, as uint64 (vLLM's default int hashes);
// lora_id is always nil (deprecated), medium always "GPU".
#include <cstdint>
#include <span>
#include <string>

#include "bench/engine_sim/kv_cache.h"

namespace pdgate::sim {

enum class KvEventEncoding { kArray, kMap };

struct KvBatchFormat {
  KvEventEncoding encoding = KvEventEncoding::kArray;
  int block_size = 16;
  int data_parallel_rank = 0;
};

// The payload frame of one batch; `ts` in seconds since the epoch.
std::string EncodeKvEventBatch(double ts, std::span<const KvCacheEvent> events,
                               const KvBatchFormat& format);

}  // namespace pdgate::sim
