// KV-event batches as vLLM publishes them, in both encodings. The payloads in
// tests/fixtures/kv_events/ are written by python3-msgpack (make_fixtures.py), not by pdgate.
#include "discovery/kv_events.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "tests/support/paths.h"

namespace pdgate::discovery {
namespace {

using testing::SharedPath;

std::vector<uint8_t> Payload(const std::string& name) {
  std::ifstream in(SharedPath("fixtures/kv_events/" + name), std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

KvEventBatch Decode(const std::vector<uint8_t>& payload) {
  absl::StatusOr<KvEventBatch> batch = DecodeKvEventBatch(payload);
  INFO(batch.status().message());
  REQUIRE(batch.ok());
  return *batch;
}

std::vector<uint32_t> Range(uint32_t from, uint32_t to) {
  std::vector<uint32_t> ids(to - from);
  std::iota(ids.begin(), ids.end(), from);
  return ids;
}

constexpr uint64_t kH0 = 12687895063098490012u;  // >= 2^63: msgpack uint64
constexpr uint64_t kH1 = 1814341696565857452u;

}  // namespace

TEST_CASE("array-form batches: events by position, trailing defaults left out") {
  const KvEventBatch batch = Decode(Payload("vllm_array_batch.msgpack"));
  CHECK(batch.ts == 1789095808.25);
  REQUIRE(batch.data_parallel_rank.has_value());
  CHECK(*batch.data_parallel_rank == 0);
  REQUIRE(batch.events.size() == 4);

  const KvEvent& stored = batch.events[0];
  CHECK(stored.type == KvEventType::kBlockStored);
  CHECK(stored.block_hashes == std::vector<uint64_t>{kH0, kH1});
  CHECK_FALSE(stored.parent_block_hash.has_value());
  CHECK(stored.token_ids == Range(0, 32));
  CHECK(stored.block_size == 16);
  CHECK(stored.medium == "GPU");
  CHECK(stored.lora_name.empty());
  CHECK(stored.cache_spec_kind.empty());

  const KvEvent& chained = batch.events[1];  // eleven of the twelve fields
  CHECK(chained.type == KvEventType::kBlockStored);
  CHECK(chained.block_hashes == std::vector<uint64_t>{7});
  REQUIRE(chained.parent_block_hash.has_value());
  CHECK(*chained.parent_block_hash == kH1);
  CHECK(chained.token_ids == Range(32, 48));
  CHECK(chained.group_idx == 0);
  CHECK(chained.cache_spec_kind == "full_attention");

  CHECK(batch.events[2].type == KvEventType::kBlockRemoved);
  CHECK(batch.events[2].block_hashes == std::vector<uint64_t>{kH0});
  CHECK(batch.events[2].medium == "GPU");
  CHECK(batch.events[3].type == KvEventType::kAllBlocksCleared);

  const KvEventBatch no_rank = Decode(Payload("vllm_array_batch_no_rank.msgpack"));
  CHECK_FALSE(no_rank.data_parallel_rank.has_value());
  REQUIRE(no_rank.events.size() == 1);
  CHECK(no_rank.events[0].block_hashes == std::vector<uint64_t>{kH1});
  CHECK(no_rank.events[0].medium.empty());  // nil: not said
}

TEST_CASE("map-form events: fields by name in any order, unknown ones skipped") {
  const KvEventBatch batch = Decode(Payload("vllm_map_batch.msgpack"));
  CHECK(batch.data_parallel_rank == 3u);
  REQUIRE(batch.events.size() == 3);
  const KvEvent& stored = batch.events[0];
  CHECK(stored.type == KvEventType::kBlockStored);
  CHECK(stored.block_hashes == std::vector<uint64_t>{15760518052499183552u});
  CHECK(stored.token_ids == Range(100, 116));
  CHECK(stored.block_size == 16);
  CHECK(stored.cache_spec_kind == "full_attention");

  CHECK(batch.events[1].type == KvEventType::kBlockRemoved);  // "type" came last
  CHECK(batch.events[1].block_hashes == std::vector<uint64_t>{15760518052499183552u});

  const KvEvent& sliding = batch.events[2];
  CHECK(sliding.type == KvEventType::kBlockStored);
  CHECK(sliding.group_idx == 1);
  CHECK(sliding.cache_spec_kind == "sliding_window");
  CHECK(sliding.lora_name == "adapter-1");

  const KvEventBatch outer = Decode(Payload("vllm_map_outer_batch.msgpack"));
  CHECK(outer.ts == 1789095810.0);
  CHECK(outer.data_parallel_rank == 1u);
  REQUIRE(outer.events.size() == 1);
  CHECK(outer.events[0].type == KvEventType::kAllBlocksCleared);
}

TEST_CASE("hashes sent as digests fold to their last 8 bytes, negative ints to their bits") {
  const KvEventBatch batch = Decode(Payload("vllm_bin_hashes.msgpack"));
  CHECK_FALSE(batch.data_parallel_rank.has_value());
  REQUIRE(batch.events.size() == 2);
  CHECK(batch.events[0].block_hashes == std::vector<uint64_t>{0x0102030405060708u});
  CHECK(batch.events[0].parent_block_hash == 0x0102030405060708u);
  CHECK(batch.events[1].block_hashes == std::vector<uint64_t>{UINT64_MAX - 1});  // -2
  CHECK(batch.events[1].medium == "CPU");
}

TEST_CASE("malformed batches are refused whole, never read past their bytes") {
  const std::vector<uint8_t> good = Payload("vllm_map_batch.msgpack");
  for (size_t cut = 0; cut < good.size(); ++cut) {
    INFO("cut at " << cut);
    std::vector<uint8_t> prefix(good.begin(), good.begin() + std::ptrdiff_t(cut));
    CHECK_FALSE(DecodeKvEventBatch(prefix).ok());
  }
  std::vector<uint8_t> trailing = good;
  trailing.push_back(0xc0);
  CHECK_FALSE(DecodeKvEventBatch(trailing).ok());
  // An array that claims 2^32-1 elements in a few bytes: refused before any allocation.
  const std::vector<uint8_t> huge = {0x93, 0xcb, 0,    0,    0,    0,    0,   0,
                                     0,    0,    0xdd, 0xff, 0xff, 0xff, 0xff};
  CHECK_FALSE(DecodeKvEventBatch(huge).ok());
  // A token id that does not fit 32 bits (BlockStored [type, [], nil, [2^32]]); an event
  // without a type.
  const std::vector<uint8_t> big_token = {0x92, 0x00, 0x91, 0x94, 0xab, 'B', 'l',  'o',  'c',  'k',
                                          'S',  't',  'o',  'r',  'e',  'd', 0x90, 0xc0, 0x91, 0xcf,
                                          0,    0,    0,    1,    0,    0,   0,    0};
  CHECK_FALSE(DecodeKvEventBatch(big_token).ok());
  const std::vector<uint8_t> untyped = {0x92, 0x00, 0x91, 0x81, 0xa1, 'x', 0x01};
  CHECK_FALSE(DecodeKvEventBatch(untyped).ok());
  // An event type pdgate does not know is kept as unknown; the batch still counts.
  const std::vector<uint8_t> unknown = {0x92, 0x00, 0x92, 0x91, 0xa3, 'N', 'e', 'w', 0x91,
                                        0xb0, 'A',  'l',  'l',  'B',  'l', 'o', 'c', 'k',
                                        's',  'C',  'l',  'e',  'a',  'r', 'e', 'd'};
  absl::StatusOr<KvEventBatch> kept = DecodeKvEventBatch(unknown);
  REQUIRE(kept.ok());
  REQUIRE(kept->events.size() == 2);
  CHECK(kept->events[0].type == KvEventType::kUnknown);
  CHECK(kept->events[1].type == KvEventType::kAllBlocksCleared);
}

TEST_CASE("the sequence frame is 8 bytes big-endian, the replay's end marker all ones") {
  const std::vector<uint8_t> five = {0, 0, 0, 0, 0, 0, 0, 5};
  CHECK(DecodeKvEventSequence(five) == 5u);
  const std::vector<uint8_t> big = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(DecodeKvEventSequence(big) == 0x0102030405060708u);
  const std::vector<uint8_t> end(8, 0xff);
  CHECK(DecodeKvEventSequence(end) == kKvReplayEnd);
  const std::vector<uint8_t> short_frame = {0, 5};
  CHECK_FALSE(DecodeKvEventSequence(short_frame).has_value());
}

TEST_CASE("a sequence encodes to the frame it decodes from") {
  const std::array<uint8_t, 8> big = EncodeKvEventSequence(0x0102030405060708u);
  CHECK(big == std::array<uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8});
  for (uint64_t sequence : {uint64_t{0}, uint64_t{5}, uint64_t{1} << 40, kKvReplayEnd}) {
    const std::array<uint8_t, 8> frame = EncodeKvEventSequence(sequence);
    CHECK(DecodeKvEventSequence(frame) == sequence);
  }
}

}  // namespace pdgate::discovery
