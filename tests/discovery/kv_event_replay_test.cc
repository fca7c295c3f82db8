// The KV-event subscriber's replays from 0 against fake_vllm_kv_publisher.py: a restart that only
// the replay checking the last batch finds (asked again from 0), a gap whose replay starts past
// it (the engine's buffer no longer reaches back), a previous process's live batch held while a
// replay from 0 ran (dropped, not taken as a restart, which would ask from 0 again without end),
// and restarts in a row (at most kMaxReplaysInARow replays before an in-order batch).
#include <catch2/catch.hpp>

#include "tests/discovery/kv_publisher_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

// The 16 tokens of block `b` of `tokens`.
std::vector<uint32_t> Block(const std::vector<uint32_t>& tokens, size_t b) {
  return {tokens.begin() + ptrdiff_t(b * 16), tokens.begin() + ptrdiff_t(b * 16 + 16)};
}

// A replay held back by the publisher (hold) must not time out while the test acts.
discovery::KvSubscriberOptions Patient() {
  discovery::KvSubscriberOptions options;
  options.replay_timeout = 10s;
  return options;
}

// The start seqs of the replays the publisher was asked, in order: "replays 0,1,0".
std::string Asked(Publisher& publisher) { return publisher.Command(R"({"op":"replays"})"); }

// pdgate following `publisher`'s one pod, patient with replays: what a test reads.
struct Watching {
  explicit Watching(Publisher& publisher)
      : following(OnePod(publisher.address, publisher.port, publisher.replay_port), Patient()) {}
  Following following;
  const discovery::KvSubscriberCounters& counters = following.subscriber.counters();
  const discovery::KvBlockIndex& index = *following.index;
  const uint32_t slot = following.slot;
};

}  // namespace

TEST_CASE("a restart found by the replay that checks the last batch asks again from 0") {
  Publisher publisher("new");
  // Before pdgate subscribes the engine caches a prompt in batches 0 and 1: only a replay tells.
  const std::vector<uint32_t> old = Tokens(100, 32);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {1}, std::nullopt, Block(old, 0)))) ==
          "ok 0");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {2}, 1, Block(old, 1)))) == "ok 1");
  Watching watch(publisher);
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, old) == 2; }, 10s));
  REQUIRE(Eventually([&] { return watch.counters.replays.load() == 1; }, 5s));
  REQUIRE(Subscribed(publisher));

  // The engine restarts; its new batches 0 and 1 are lost live and 2 arrives. 2 follows the
  // replayed 1, so a replay from 1 checks the engine still holds that batch: it holds another
  // batch 1, a restart, and the new batch 0 is before what was asked: a replay from 0 brings it.
  REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> fresh = Tokens(9000, 64);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {7}, std::nullopt, Block(fresh, 0)))) ==
          "ok 0");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {8}, 7, Block(fresh, 1)))) == "ok 1");
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {9}, 8, Block(fresh, 2)))) == "ok 2");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 3; }, 10s));
  CHECK(Held(watch.index, watch.slot, old) == 0);
  // Batch 3 follows in order: once it is applied, every replay the batches before it asked has
  // ended (live batches wait behind a replay), and none more is asked.
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {10}, 9, Block(fresh, 3)))) == "ok 3");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 4; }, 10s));
  CHECK(Asked(publisher) == "replays 0,1,0");
  CHECK(watch.counters.replays.load() == 2);  // the one from 1 was left for the one from 0
  CHECK(watch.counters.restarts.load() == 1);
  CHECK(watch.counters.gaps.load() == 0);
  CHECK(watch.counters.replay_failures.load() == 0);
  CHECK(watch.counters.decode_errors.load() == 0);
}

TEST_CASE("a gap replay that starts past the gap clears the rank (the buffer no longer reaches)") {
  // The engine keeps its last two batches for replay (vLLM's buffer_steps).
  Publisher publisher("new", {"--buffer-steps", "2"});
  Watching watch(publisher);
  REQUIRE(Eventually([&] { return watch.counters.replays.load() == 1; }, 10s));  // found nothing
  REQUIRE(Subscribed(publisher));
  const std::vector<uint32_t> old = Tokens(100, 48);
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {1}, std::nullopt, Block(old, 0)))) ==
          "ok 0");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, old) == 1; }, 10s));

  // Batches 1 to 3 are lost live and 4 arrives: the replay from 1 brings 3 and 4 only. What 1 and
  // 2 did is unknown (a removal of block 1 would leave a stale entry): the rank is cleared.
  const std::vector<uint32_t> fresh = Tokens(9000, 48);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {2}, 1, Block(old, 1)))) == "ok 1");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {3}, 2, Block(old, 2)))) == "ok 2");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {7}, std::nullopt, Block(fresh, 0)))) ==
          "ok 3");
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {8}, 7, Block(fresh, 1)))) == "ok 4");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 2; }, 10s));
  CHECK(Held(watch.index, watch.slot, old) == 0);
  // Batch 5 follows in order: the replays have ended, and none more is asked.
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {9}, 8, Block(fresh, 2)))) == "ok 5");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 3; }, 10s));
  CHECK(Asked(publisher) == "replays 0,1");
  CHECK(watch.counters.replays.load() == 2);
  CHECK(watch.counters.gaps.load() == 1);
  CHECK(watch.counters.restarts.load() == 0);
  CHECK(watch.counters.replay_failures.load() == 0);
}

TEST_CASE("a live batch of the previous process held during a replay from 0 is dropped") {
  Publisher publisher("new");
  // The engine answers replays late: the one asked on joining is under way while batches come.
  REQUIRE(publisher.Command(R"({"op":"hold"})") == "ok");
  const std::vector<uint32_t> stale = Tokens(100, 32);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {1}, std::nullopt, Block(stale, 0)))) ==
          "ok 0");
  Watching watch(publisher);
  REQUIRE(Eventually([&] { return Asked(publisher) == "replays 0"; }, 10s));
  REQUIRE(Subscribed(publisher));
  // Batch 1 comes live and waits for the replay (a block of its own: seen if ever applied).
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {2}, std::nullopt, Block(stale, 1)))) ==
          "ok 1");
  REQUIRE(Eventually([&] { return watch.counters.held_batches.load() == 1; }, 10s));

  // The engine restarts before it answers: the replay brings the new process's batches 0 to 2.
  // The held batch 1 is at or below them with other bytes: the old process's, not news of a
  // restart (taken as one, it would ask from 0 again, get the same answer, and ask again).
  REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> fresh = Tokens(9000, 64);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {7}, std::nullopt, Block(fresh, 0)))) ==
          "ok 0");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {8}, 7, Block(fresh, 1)))) == "ok 1");
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {9}, 8, Block(fresh, 2)))) == "ok 2");
  REQUIRE(publisher.Command(R"({"op":"release"})") == "released 1");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 3; }, 10s));
  // Batch 3 follows the replayed 2: a replay from 2 finds that batch with the same bytes.
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {10}, 9, Block(fresh, 3)))) == "ok 3");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, fresh) == 4; }, 10s));
  REQUIRE(Eventually([&] { return watch.counters.replays.load() == 2; }, 5s));
  CHECK(Asked(publisher) == "replays 0,2");
  CHECK(Held(watch.index, watch.slot, Block(stale, 1)) == 0);
  CHECK(watch.counters.restarts.load() == 0);
  CHECK(watch.counters.gaps.load() == 0);
  CHECK(watch.counters.replay_failures.load() == 0);
}

TEST_CASE("restarts in a row ask at most three replays from 0 until a batch comes in order") {
  Publisher publisher("new");
  Watching watch(publisher);
  REQUIRE(Eventually([&] { return watch.counters.replays.load() == 1; }, 10s));  // found nothing
  REQUIRE(Subscribed(publisher));
  const std::vector<uint32_t> first = Tokens(100, 32);
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {1}, std::nullopt, Block(first, 0)))) ==
          "ok 0");
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {2}, 1, Block(first, 1)))) == "ok 1");
  REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, first) == 2; }, 10s));

  // Each time the engine restarts, its batch 0 is lost live and 1 arrives: a restart, and a
  // replay from 0 brings batch 0, until three were asked with no in-order batch between.
  for (uint32_t round = 1; round <= 5; ++round) {
    INFO("round " << round);
    REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
    const std::vector<uint32_t> lost = Tokens(1000 * round, 16),
                                live = Tokens(1000 * round + 500, 16);
    REQUIRE(publisher.Command(Batch("drop", Stored(true, {10 * round}, std::nullopt, lost))) ==
            "ok 0");
    REQUIRE(publisher.Command(
                Batch("publish", Stored(true, {10 * round + 1}, std::nullopt, live))) == "ok 1");
    REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, live) == 1; }, 10s));
    CHECK(watch.counters.restarts.load() == round);
    if (round == 4) {
      // The fourth in a row is applied without a replay: its batch 0 stays unknown.
      CHECK(Held(watch.index, watch.slot, lost) == 0);
      // Batch 2 comes in order: the bound starts again.
      const std::vector<uint32_t> next = Tokens(6000, 16);
      REQUIRE(publisher.Command(Batch("publish", Stored(true, {50}, std::nullopt, next))) ==
              "ok 2");
      REQUIRE(Eventually([&] { return Held(watch.index, watch.slot, next) == 1; }, 10s));
      CHECK(Asked(publisher) == "replays 0,0,0,0");
      CHECK(watch.counters.replays.load() == 4);
      continue;
    }
    const uint64_t replays = round < 4 ? round + 1 : round;
    REQUIRE(Eventually(
        [&] {
          return Held(watch.index, watch.slot, lost) == 1 &&
                 watch.counters.replays.load() == replays;
        },
        10s));
  }
  CHECK(Asked(publisher) == "replays 0,0,0,0,0");
  CHECK(watch.counters.replay_failures.load() == 0);
  CHECK(watch.counters.gaps.load() == 0);
}
