// A KV-event payload frame (msgpack EventBatch, either encoding) through the decoder.
// Properties: nothing crashes or reads out of bounds; a batch the decoder accepts is exactly one
// whole msgpack value (nothing trailing, nothing cut off), and every BlockStored's token ids fit.
#include <cstdint>
#include <span>

#include "discovery/kv_events.h"
#include "discovery/msgpack_reader.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> payload(data, size);
  absl::StatusOr<pdgate::discovery::KvEventBatch> batch =
      pdgate::discovery::DecodeKvEventBatch(payload);
  pdgate::discovery::MsgpackReader reader(payload);
  const bool one_value = reader.Skip() && reader.done();
  if (batch.ok()) {
    FUZZ_CHECK(one_value);
    for (const pdgate::discovery::KvEvent& event : batch->events) {
      FUZZ_CHECK(event.token_ids.size() <= size);
      FUZZ_CHECK(event.block_hashes.size() <= size);
    }
  }
  return 0;
}
