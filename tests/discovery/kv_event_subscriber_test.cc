// The KV-event subscriber against a publisher that is not pdgate's (fake_vllm_kv_publisher.py:
// pyzmq and python3-msgpack, Debian's /usr/bin/python3): a late join filled by replay, a lost
// batch filled by replay, removals, and a restarted publisher, in both vLLM encodings and both
// replay layouts.
#include "discovery/kv_event_subscriber.h"

#include <mutex>

#include "tests/discovery/kv_publisher_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

void Run(const std::string& layout, bool map) {
  Publisher publisher(layout);
  const std::vector<uint32_t> prompt = Tokens(100, 64);  // blocks A B C D
  auto block = [&](size_t b) {
    return std::vector<uint32_t>(prompt.begin() + ptrdiff_t(b * 16),
                                 prompt.begin() + ptrdiff_t(b * 16 + 16));
  };
  // Batch 0, before anyone subscribed: blocks A and B.
  std::vector<uint32_t> ab = block(0);
  ab.insert(ab.end(), prompt.begin() + 16, prompt.begin() + 32);
  REQUIRE(publisher.Command(Batch("publish", Stored(map, {11, 12}, std::nullopt, ab))) == "ok 0");

  config::LoadResult loaded = OnePod(publisher.address, publisher.port, publisher.replay_port);
  INFO(StrJoin(loaded.errors, "\n"));
  REQUIRE(loaded.errors.empty());
  discovery::LiveRegistry registry;
  std::mutex snapshot_mutex;  // the subscriber's thread reads it
  auto snapshot = discovery::BuildEndpointSnapshot(loaded.config, &registry);
  REQUIRE(snapshot->servers.size() == 1);
  REQUIRE(snapshot->servers[0].endpoints.size() == 1);
  const uint32_t slot = snapshot->servers[0].endpoints[0].live->slot();
  auto index = std::make_shared<discovery::KvBlockIndex>(1000, 1);
  discovery::KvEventSubscriber subscriber([&] {
    std::lock_guard lock(snapshot_mutex);
    return discovery::KvEventTargets{snapshot, index};
  });
  subscriber.Start();
  const auto& counters = subscriber.counters();

  // Joined late: the replay from 0 brings A and B.
  REQUIRE(Eventually([&] { return Held(*index, slot, prompt) == 2; }, 10s));
  REQUIRE(Eventually([&] { return counters.replays.load() >= 1; }, 5s));

  // Batch 1 (C) is lost on the live stream; batch 2 (D) arrives: the gap is replayed.
  REQUIRE(publisher.Command(Batch("drop", Stored(map, {13}, 12, block(2)))) == "ok 1");
  REQUIRE(Until(publisher, Batch("publish", Stored(map, {14}, 13, block(3))),
                [&] { return Held(*index, slot, prompt) == 4; }));
  CHECK(counters.gaps.load() >= 1);
  CHECK(counters.replays.load() >= 2);

  // D removed: three blocks lead.
  REQUIRE(Until(publisher, Batch("publish", Removed(map, 14)),
                [&] { return Held(*index, slot, prompt) == 3; }));

  // The engine restarts: numbering from 0 again, and only the new blocks count.
  REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> other = Tokens(9000, 32);
  REQUIRE(Until(publisher, Batch("publish", Stored(map, {21, 22}, std::nullopt, other)),
                [&] { return Held(*index, slot, other) == 2; }));
  CHECK(Held(*index, slot, prompt) == 0);
  CHECK(counters.restarts.load() == 1);
  CHECK(counters.decode_errors.load() == 0);
  CHECK(counters.block_size_mismatches.load() == 0);
  CHECK(counters.replay_failures.load() == 0);
  CHECK(counters.sources.load() == 1);

  // The endpoint leaves: its entries go.
  {
    std::lock_guard lock(snapshot_mutex);
    snapshot = discovery::BuildEndpointSnapshot(LoadYaml(kServerYaml).config, &registry);
  }
  REQUIRE(Eventually([&] { return counters.sources.load() == 0; }, 5s));
  CHECK(Held(*index, slot, other) == 0);
  subscriber.Stop();
}

}  // namespace

TEST_CASE("KV events from a vLLM 0.25-style publisher: array events, two-frame replay") {
  Run("old", /*map=*/false);
}

TEST_CASE("KV events from a vLLM 0.26-style publisher: map events, three-frame replay") {
  Run("new", /*map=*/true);
}

TEST_CASE(
    "KV events from two data-parallel ranks: ports + rank, one rank's restart clears only it") {
  const std::string address = LoopbackAddress(160 + int(getpid() % 40));
  // Both ranks' events, replay and control ports from one block: no two the same.
  const uint16_t ports = FreePorts(address, 6);
  REQUIRE(ports != 0);
  const uint16_t events = ports, replay = uint16_t(ports + 2), control = uint16_t(ports + 4);
  Publisher rank0("new", address, events, replay, control);
  Publisher rank1("new", address, uint16_t(events + 1), uint16_t(replay + 1),
                  uint16_t(control + 1));
  Following following(OnePod(address, events, replay, ", dataParallelSize: 2"));
  discovery::KvEventSubscriber& subscriber = following.subscriber;
  discovery::KvBlockIndex* const index = following.index.get();
  const uint32_t slot = following.slot;
  REQUIRE(Eventually([&] { return subscriber.counters().sources.load() == 2; }, 5s));
  // Published once both subscriptions are in: what is published before comes only by replay,
  // and the restart below is then another case (the two tests after this one).
  REQUIRE(Subscribed(rank0));
  REQUIRE(Subscribed(rank1));

  // Each rank caches its own prompt; rank 1's batches leave their rank out (older engines): the
  // port says whose they are. Both count for the endpoint.
  const std::vector<uint32_t> first = Tokens(100, 32), second = Tokens(5000, 48);
  REQUIRE(Until(rank0, Batch("publish", Stored(true, {1, 2}, std::nullopt, first)),
                [&] { return Held(*index, slot, first) == 2; }));
  REQUIRE(Until(rank1, Batch("publish", Stored(true, {1, 2, 3}, std::nullopt, second), "null"),
                [&] { return Held(*index, slot, second) == 3; }));
  // Which path dropped a rank's blocks, should one go (a CI run once saw rank 0's vanish here).
  const discovery::KvSubscriberCounters& counters = subscriber.counters();
  INFO("batches " << counters.batches.load() << ", gaps " << counters.gaps.load() << ", replays "
                  << counters.replays.load() << ", replay failures "
                  << counters.replay_failures.load() << ", restarts " << counters.restarts.load()
                  << ", decode errors " << counters.decode_errors.load());
  CHECK(Held(*index, slot, first) == 2);
  CHECK(index->stats().entries == 5);

  // Rank 1 restarts: its blocks go, rank 0's stay (the same engine hashes on both ranks are two
  // engines' blocks, not one).
  REQUIRE(rank1.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> third = Tokens(9000, 16);
  REQUIRE(Until(rank1, Batch("publish", Stored(true, {7}, std::nullopt, third), "1"),
                [&] { return Held(*index, slot, third) == 1; }));
  CHECK(Held(*index, slot, second) == 0);
  CHECK(Held(*index, slot, first) == 2);
  CHECK(subscriber.counters().restarts.load() == 1);
  CHECK(subscriber.counters().decode_errors.load() == 0);
  subscriber.Stop();
}

TEST_CASE("an engine restarting right after pdgate subscribed is seen, though it reuses a number") {
  Publisher publisher("new");
  // Before pdgate subscribes the engine caches a prompt (batch 0); only the replay tells of it,
  // so the live stream has delivered nothing when the engine restarts.
  const std::vector<uint32_t> old = Tokens(100, 32);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {1, 2}, std::nullopt, old))) == "ok 0");
  Following following(OnePod(publisher.address, publisher.port, publisher.replay_port));
  discovery::KvEventSubscriber& subscriber = following.subscriber;
  discovery::KvBlockIndex* const index = following.index.get();
  const uint32_t slot = following.slot;
  REQUIRE(Eventually([&] { return Held(*index, slot, old) == 2; }, 10s));
  CHECK(subscriber.counters().restarts.load() == 0);

  // The restarted engine's first batch is number 0 again, with other blocks: not the live copy
  // of the replayed batch 0, so the old blocks go.
  REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> fresh = Tokens(9000, 16);
  REQUIRE(Until(publisher, Batch("publish", Stored(true, {7}, std::nullopt, fresh)),
                [&] { return Held(*index, slot, fresh) == 1; }));
  CHECK(subscriber.counters().restarts.load() == 1);
  CHECK(Held(*index, slot, old) == 0);
  CHECK(subscriber.counters().decode_errors.load() == 0);
  subscriber.Stop();
}

TEST_CASE(
    "a restarted engine is seen though its batch 1 follows the replayed 0 (its 0 lost live)") {
  Publisher publisher("new");
  // Before pdgate subscribes the engine caches a prompt (batch 0); only the replay tells of it.
  const std::vector<uint32_t> old = Tokens(100, 32);
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {1, 2}, std::nullopt, old))) == "ok 0");
  Following following(OnePod(publisher.address, publisher.port, publisher.replay_port));
  discovery::KvEventSubscriber& subscriber = following.subscriber;
  discovery::KvBlockIndex* const index = following.index.get();
  const uint32_t slot = following.slot;
  REQUIRE(Eventually([&] { return Held(*index, slot, old) == 2; }, 10s));
  REQUIRE(Subscribed(publisher));

  // The engine restarts; its new batch 0 is lost on the live stream and batch 1 arrives: number
  // 1 follows the replayed 0, but it is another engine's, and batch 0 is in its buffer.
  REQUIRE(publisher.Command(R"({"op":"restart"})") == "ok");
  const std::vector<uint32_t> fresh = Tokens(9000, 32);
  const std::vector<uint32_t> fresh0(fresh.begin(), fresh.begin() + 16);
  const std::vector<uint32_t> fresh1(fresh.begin() + 16, fresh.end());
  REQUIRE(publisher.Command(Batch("drop", Stored(true, {7}, std::nullopt, fresh0))) == "ok 0");
  REQUIRE(publisher.Command(Batch("publish", Stored(true, {8}, 7, fresh1))) == "ok 1");
  REQUIRE(Eventually([&] { return Held(*index, slot, fresh) == 2; }, 10s));
  CHECK(Held(*index, slot, old) == 0);
  CHECK(subscriber.counters().restarts.load() == 1);
  CHECK(subscriber.counters().decode_errors.load() == 0);
  subscriber.Stop();
}
