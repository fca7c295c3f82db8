#include "bench/engine_sim/kv_event_encoding.h"

#include <string_view>

#include "bench/engine_sim/msgpack_writer.h"

namespace pdgate::sim {
namespace {

constexpr std::string_view kMedium = "GPU";  // vLLM's MEDIUM_GPU

class EventWriter {
 public:
  EventWriter(std::string& out, const KvBatchFormat& format)
      : w_(out), map_(format.encoding == KvEventEncoding::kMap), block_size_(format.block_size) {}

  void Write(const KvCacheEvent& event) {
    switch (event.type) {
      case KvCacheEvent::Type::kBlockStored:
        Begin("BlockStored", map_ ? 11 : 8);
        Field("block_hashes");
        Hashes(event);
        Field("parent_block_hash");
        if (event.parent_block_hash) {
          w_.Uint(*event.parent_block_hash);
        } else {
          w_.Nil();
        }
        Field("token_ids");
        w_.ArrayHeader(static_cast<uint32_t>(event.token_ids.size()));
        for (TokenId token : event.token_ids) w_.Uint(token);
        Field("block_size");
        w_.Int(block_size_);
        Field("lora_id");
        w_.Nil();
        Field("medium");
        w_.String(kMedium);
        Field("lora_name");
        if (event.lora_name.empty()) {
          w_.Nil();
        } else {
          w_.String(event.lora_name);
        }
        if (!map_) return;  // array_like: the fields with defaults are left out
        Field("extra_keys");
        w_.ArrayHeader(static_cast<uint32_t>(event.block_hashes.size()));
        for (size_t i = 0; i < event.block_hashes.size(); ++i) w_.Nil();
        Field("group_idx");
        w_.Uint(0);
        Field("kv_cache_spec_kind");
        w_.String("full_attention");
        return;
      case KvCacheEvent::Type::kBlockRemoved:
        Begin("BlockRemoved", 3);
        Field("block_hashes");
        Hashes(event);
        Field("medium");
        w_.String(kMedium);
        return;
      case KvCacheEvent::Type::kAllBlocksCleared:
        Begin("AllBlocksCleared", 1);
        return;
    }
  }

 private:
  // The tag: the first element of the array, or the "type" entry of the map. `fields` counts it.
  void Begin(std::string_view type, uint32_t fields) {
    if (map_) {
      w_.MapHeader(fields);
      w_.String("type");
    } else {
      w_.ArrayHeader(fields);
    }
    w_.String(type);
  }
  void Field(std::string_view name) {
    if (map_) w_.String(name);
  }
  void Hashes(const KvCacheEvent& event) {
    w_.ArrayHeader(static_cast<uint32_t>(event.block_hashes.size()));
    for (uint64_t hash : event.block_hashes) w_.Uint(hash);
  }

  MsgpackWriter w_;
  bool map_;
  int block_size_;
};

}  // namespace

std::string EncodeKvEventBatch(double ts, std::span<const KvCacheEvent> events,
                               const KvBatchFormat& format) {
  std::string out;
  MsgpackWriter w(out);
  w.ArrayHeader(3);
  w.Double(ts);
  w.ArrayHeader(static_cast<uint32_t>(events.size()));
  EventWriter writer(out, format);
  for (const KvCacheEvent& event : events) writer.Write(event);
  w.Int(format.data_parallel_rank);
  return out;
}

}  // namespace pdgate::sim
