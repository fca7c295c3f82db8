// The simulator's msgpack writer, read back with pdgate's own MsgpackReader (an independent
// reader), and the KV EventBatch encodings, read back with DecodeKvEventBatch (the decoder the
// router runs on real vLLM events).
#include <catch2/catch.hpp>
#include <cstdio>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "bench/engine_sim/kv_event_encoding.h"
#include "bench/engine_sim/msgpack_writer.h"
#include "discovery/kv_events.h"
#include "discovery/msgpack_reader.h"
#include "tests/engine_sim/sim_unit_support.h"

using namespace pdgate::sim;
using pdgate::discovery::KvEventType;
using pdgate::discovery::MsgpackReader;
using pdgate::sim::testing::Ids;

namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <typename F>
std::string Written(F write) {
  std::string out;
  MsgpackWriter w(out);
  write(w);
  return out;
}

// The first `at_most` bytes in hex.
std::string Hex(std::string_view bytes, size_t at_most = 9) {
  std::string out;
  char buffer[4];
  for (size_t i = 0; i < bytes.size() && i < at_most; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%02x", static_cast<uint8_t>(bytes[i]));
    out += buffer;
  }
  return out;
}

pdgate::discovery::KvEventBatch Decode(const std::string& payload) {
  auto batch = pdgate::discovery::DecodeKvEventBatch(Bytes(payload));
  REQUIRE(batch.ok());
  return *std::move(batch);
}

}  // namespace

TEST_CASE("msgpack writer: integers in their shortest form, read back bit for bit") {
  struct Case {
    int64_t value;
    bool as_unsigned;
    std::string hex;  // the first bytes
  };
  const std::vector<Case> cases = {
      {0, true, "00"},
      {127, true, "7f"},
      {128, true, "cc80"},
      {255, true, "ccff"},
      {256, true, "cd0100"},
      {65535, true, "cdffff"},
      {65536, true, "ce00010000"},
      {-1, false, "ff"},
      {-32, false, "e0"},
      {-33, false, "d0df"},
      {-128, false, "d080"},
      {-129, false, "d1ff7f"},
      {-32768, false, "d18000"},
      {-32769, false, "d2ffff7fff"},
      {INT32_MIN, false, "d280000000"},
      {int64_t{INT32_MIN} - 1, false, "d3ffffffff7fffffff"},
      {INT64_MIN, false, "d38000000000000000"},
  };
  for (const Case& c : cases) {
    const std::string out = Written([&](MsgpackWriter& w) { w.Int(c.value); });
    INFO(c.value);
    CHECK(Hex(out) == c.hex);
    MsgpackReader reader(Bytes(out));
    uint64_t bits = 0;
    REQUIRE(reader.ReadInteger(bits));
    CHECK(bits == static_cast<uint64_t>(c.value));
    CHECK(reader.done());
  }
  for (uint64_t value : {uint64_t{UINT32_MAX}, uint64_t{UINT32_MAX} + 1, uint64_t{1} << 63,
                         std::numeric_limits<uint64_t>::max()}) {
    const std::string out = Written([&](MsgpackWriter& w) { w.Uint(value); });
    CHECK(out.size() == (value <= UINT32_MAX ? 5u : 9u));
    CHECK(static_cast<uint8_t>(out[0]) == (value <= UINT32_MAX ? 0xce : 0xcf));
    MsgpackReader reader(Bytes(out));
    uint64_t read = 0;
    REQUIRE(reader.ReadUnsigned(read));
    CHECK(read == value);
  }
}

TEST_CASE("msgpack writer: strings, binaries, arrays and maps at their header boundaries") {
  struct Case {
    size_t size;
    std::string header;
  };
  for (const Case& c : std::vector<Case>{{0, "a0"},
                                         {31, "bf"},
                                         {32, "d920"},
                                         {255, "d9ff"},
                                         {256, "da0100"},
                                         {65535, "daffff"},
                                         {65536, "db00010000"}}) {
    const std::string text(c.size, 'x');
    const std::string out = Written([&](MsgpackWriter& w) { w.String(text); });
    INFO(c.size);
    CHECK(Hex(out, c.header.size() / 2) == c.header);
    CHECK(out.size() == c.header.size() / 2 + c.size);
    MsgpackReader reader(Bytes(out));
    std::string_view read;
    REQUIRE(reader.ReadString(read));
    CHECK(read == text);
  }
  for (const Case& c :
       std::vector<Case>{{0, "c400"}, {255, "c4ff"}, {256, "c50100"}, {65536, "c600010000"}}) {
    const std::vector<uint8_t> data(c.size, 7);
    const std::string out = Written([&](MsgpackWriter& w) { w.Binary(data); });
    CHECK(Hex(out, c.header.size() / 2) == c.header);
    MsgpackReader reader(Bytes(out));
    std::span<const uint8_t> read;
    REQUIRE(reader.ReadBinary(read));
    CHECK(read.size() == c.size);
  }
  for (const Case& c : std::vector<Case>{
           {0, "90"}, {15, "9f"}, {16, "dc0010"}, {65535, "dcffff"}, {65536, "dd00010000"}}) {
    std::string out = Written([&](MsgpackWriter& w) {
      w.ArrayHeader(static_cast<uint32_t>(c.size));
      for (size_t i = 0; i < c.size; ++i) w.Nil();
    });
    CHECK(Hex(out, c.header.size() / 2) == c.header);
    MsgpackReader reader(Bytes(out));
    uint32_t size = 0;
    REQUIRE(reader.ReadArray(size));
    CHECK(size == c.size);
    REQUIRE(reader.Skip() == (c.size > 0));  // elements follow the header
  }
  for (const Case& c : std::vector<Case>{{15, "8f"}, {16, "de0010"}, {65536, "df00010000"}}) {
    std::string out = Written([&](MsgpackWriter& w) {
      w.MapHeader(static_cast<uint32_t>(c.size));
      for (size_t i = 0; i < c.size; ++i) {
        w.Uint(i);
        w.Bool(i % 2 == 0);
      }
    });
    CHECK(Hex(out, c.header.size() / 2) == c.header);
    MsgpackReader reader(Bytes(out));
    uint32_t size = 0;
    REQUIRE(reader.ReadMap(size));
    CHECK(size == c.size);
  }
  const std::string scalars = Written([](MsgpackWriter& w) {
    w.Nil();
    w.Bool(true);
    w.Bool(false);
    w.Double(1789095808.83);
  });
  CHECK(Hex(scalars, 4) == "c0c3c2cb");
  MsgpackReader reader(Bytes(scalars));
  CHECK(reader.ReadNil());
  CHECK(reader.Peek() == pdgate::discovery::MsgpackType::kBool);
  CHECK(reader.Skip());
  CHECK(reader.Skip());
  double value = 0;
  REQUIRE(reader.ReadDouble(value));
  CHECK(value == 1789095808.83);
  CHECK(reader.done());
}

TEST_CASE("KV event batches decode with pdgate's decoder in both encodings, field for field") {
  std::vector<KvCacheEvent> events(4);
  events[0].type = KvCacheEvent::Type::kBlockStored;
  events[0].block_hashes = {12687895063098490012ull, 7};
  events[0].token_ids = Ids(32, 0);
  events[1].type = KvCacheEvent::Type::kBlockStored;
  events[1].block_hashes = {99};
  events[1].parent_block_hash = 7;
  events[1].token_ids = Ids(16, 32);
  events[1].lora_name = "adapter-1";
  events[2].type = KvCacheEvent::Type::kBlockRemoved;
  events[2].block_hashes = {12687895063098490012ull};
  events[3].type = KvCacheEvent::Type::kAllBlocksCleared;
  for (auto encoding : {KvEventEncoding::kArray, KvEventEncoding::kMap}) {
    const bool map = encoding == KvEventEncoding::kMap;
    INFO((map ? "map" : "array"));
    const std::string payload = EncodeKvEventBatch(1789095808.25, events, {encoding, 16, 3});
    const auto batch = Decode(payload);
    CHECK(batch.ts == 1789095808.25);
    CHECK(batch.data_parallel_rank == 3u);
    REQUIRE(batch.events.size() == 4);
    CHECK(batch.events[0].type == KvEventType::kBlockStored);
    CHECK(batch.events[0].block_hashes == events[0].block_hashes);
    CHECK_FALSE(batch.events[0].parent_block_hash.has_value());
    CHECK(batch.events[0].token_ids == events[0].token_ids);
    CHECK(batch.events[0].block_size == 16);
    CHECK(batch.events[0].medium == "GPU");
    CHECK(batch.events[0].lora_name.empty());
    CHECK(batch.events[0].cache_spec_kind == (map ? "full_attention" : ""));
    CHECK(batch.events[1].parent_block_hash == 7u);
    CHECK(batch.events[1].lora_name == "adapter-1");
    CHECK(batch.events[2].type == KvEventType::kBlockRemoved);
    CHECK(batch.events[2].block_hashes == events[2].block_hashes);
    CHECK(batch.events[2].medium == "GPU");
    CHECK(batch.events[3].type == KvEventType::kAllBlocksCleared);

    // The wire shape itself: [ts, [event...], rank]; a BlockStored of 8 positional fields, or a
    // map of 11 entries whose first key is "type".
    MsgpackReader reader(Bytes(payload));
    uint32_t size = 0;
    double ts = 0;
    REQUIRE(reader.ReadArray(size));
    CHECK(size == 3);
    REQUIRE(reader.ReadDouble(ts));
    REQUIRE(reader.ReadArray(size));
    CHECK(size == 4);
    std::string_view text;
    if (map) {
      REQUIRE(reader.ReadMap(size));
      CHECK(size == 11);
      REQUIRE(reader.ReadString(text));
      CHECK(text == "type");
      REQUIRE(reader.ReadString(text));
      CHECK(text == "BlockStored");
      std::vector<std::string> keys;
      for (uint32_t i = 1; i < 11; ++i) {
        REQUIRE(reader.ReadString(text));
        keys.emplace_back(text);
        REQUIRE(reader.Skip());
      }
      CHECK(keys == std::vector<std::string>{"block_hashes", "parent_block_hash", "token_ids",
                                             "block_size", "lora_id", "medium", "lora_name",
                                             "extra_keys", "group_idx", "kv_cache_spec_kind"});
    } else {
      REQUIRE(reader.ReadArray(size));
      CHECK(size == 8);
      REQUIRE(reader.ReadString(text));
      CHECK(text == "BlockStored");
    }
  }
}
