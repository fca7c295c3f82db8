#pragma once
// vLLM's (and SGLang's) KV-cache events as they come off the publisher's ZMQ socket: the
// three-frame message (topic, 8-byte big-endian sequence, msgpack payload) and the EventBatch
// in both encodings (shared/research round2.md §A.2-A.3):
//   - array form (vLLM up to 0.25): batch [ts, events, dp_rank?], events tagged arrays
//     ["BlockStored", block_hashes, parent, token_ids, block_size, lora_id, medium, lora_name,
//     extra_keys?, group_idx?, kind?, window?] with trailing defaults left out;
//   - map form (vLLM 0.26+, SGLang): events maps with a "type" key, in any key order; an outer
//     batch map {ts, events, data_parallel_rank} is accepted too.
// Unknown fields are skipped; an unknown event type is kept as kUnknown so the others still count.
// Engine block hashes are folded to 64 bits: integers as their 64-bit value (uint64 or a negative
// int64), a digest sent as bytes by its last 8 bytes big-endian (vLLM's own folding).
#include <absl/status/statusor.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pdgate::discovery {

enum class KvEventType { kBlockStored, kBlockRemoved, kAllBlocksCleared, kUnknown };

struct KvEvent {
  KvEventType type = KvEventType::kUnknown;
  std::vector<uint64_t> block_hashes;  // the engine's, folded to 64 bits
  std::optional<uint64_t> parent_block_hash;
  std::vector<uint32_t> token_ids;  // BlockStored: block_hashes.size() * block_size of them
  uint32_t block_size = 0;
  std::string medium;     // "GPU", "CPU", ...; empty when not said
  std::string lora_name;  // empty: the base model
  uint32_t group_idx = 0;
  std::string cache_spec_kind;  // "full_attention", "sliding_window", ...; empty when not said
};

struct KvEventBatch {
  double ts = 0;
  std::vector<KvEvent> events;
  std::optional<uint32_t> data_parallel_rank;
};

// The sequence frame: 8 bytes, big-endian. The replay's end marker is all ones (-1 signed).
std::optional<uint64_t> DecodeKvEventSequence(std::span<const uint8_t> frame);
std::array<uint8_t, 8> EncodeKvEventSequence(uint64_t sequence);
inline constexpr uint64_t kKvReplayEnd = UINT64_MAX;

// The payload frame. Errors name what was malformed; nothing is partly returned.
absl::StatusOr<KvEventBatch> DecodeKvEventBatch(std::span<const uint8_t> payload);

}  // namespace pdgate::discovery
