// Telling the live copy of a replayed KV-event batch from a restarted engine's batch that
// reuses its number.
#include "discovery/replayed_batches.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <span>
#include <string_view>

namespace {

std::span<const uint8_t> Bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace

TEST_CASE("a replayed batch is held by its number and its bytes") {
  pdgate::discovery::ReplayedBatches replayed;
  CHECK_FALSE(replayed.Holds(0, Bytes("stored A")));
  replayed.Add(0, Bytes("stored A"));
  replayed.Add(1, Bytes("removed A"));
  CHECK(replayed.Holds(0, Bytes("stored A")));
  CHECK(replayed.Holds(1, Bytes("removed A")));
  CHECK_FALSE(replayed.Holds(0, Bytes("stored B")));  // number 0 again, other blocks: a restart
  CHECK_FALSE(replayed.Holds(2, Bytes("stored A")));
  CHECK(replayed.HashOf(1) == pdgate::discovery::ReplayedBatches::Hash(Bytes("removed A")));
  CHECK_FALSE(replayed.HashOf(2).has_value());
  replayed.Clear();
  CHECK_FALSE(replayed.Holds(0, Bytes("stored A")));
  CHECK_FALSE(replayed.HashOf(0).has_value());
}

TEST_CASE("a long replay keeps its newest batches") {
  pdgate::discovery::ReplayedBatches replayed;
  for (uint64_t seq = 0; seq < 10000; ++seq) replayed.Add(seq, Bytes("batch"));
  CHECK(replayed.Holds(9999, Bytes("batch")));
  CHECK(replayed.Holds(8000, Bytes("batch")));
  CHECK_FALSE(replayed.Holds(0, Bytes("batch")));
}
