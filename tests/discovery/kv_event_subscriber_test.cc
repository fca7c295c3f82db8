// The KV-event subscriber against a publisher that is not pdgate's (fake_vllm_kv_publisher.py:
// pyzmq and python3-msgpack, Debian's /usr/bin/python3): a late join filled by replay, a lost
// batch filled by replay, removals, and a restarted publisher, in both vLLM encodings and both
// replay layouts.
#include "discovery/kv_event_subscriber.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <functional>
#include <mutex>
#include <numeric>
#include <zmq.hpp>

#include "tests/config/config_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

using namespace pdgate;
using namespace pdgate::testing;
using namespace std::chrono_literals;

namespace {

struct Publisher {
  // Its three ports from one block of free ones. Separate FreePort() picks can be the same port
  // (nothing is bound before the publisher runs); the publisher that then loses a bind exits,
  // and a shared control port would let the other answer for both.
  std::string address = LoopbackAddress(200 + int(getpid() % 40));
  uint16_t port = FreePorts(address, 3);
  uint16_t replay_port = uint16_t(port + 1);
  uint16_t control_port = uint16_t(port + 2);
  std::optional<ChildProcess> process;
  zmq::context_t context{1};
  zmq::socket_t control{context, zmq::socket_type::req};
  uint64_t next_seq = 0;  // the number its next batch gets, as its replies must say

  explicit Publisher(const std::string& layout) { Start(layout); }
  // A publisher on given ports (a data-parallel rank's: the base ports + rank).
  Publisher(const std::string& layout, const std::string& at, uint16_t events, uint16_t replay,
            uint16_t control_at)
      : address(at), port(events), replay_port(replay), control_port(control_at) {
    Start(layout);
  }

  void Start(const std::string& layout) {
    REQUIRE(port != 0);
    auto started = ChildProcess::Start(
        {"/usr/bin/python3", SourcePath("tests/discovery/fake_vllm_kv_publisher.py"), "--address",
         address, "--port", std::to_string(port), "--replay-port", std::to_string(replay_port),
         "--control-port", std::to_string(control_port), "--layout", layout});
    REQUIRE(started.ok());
    process.emplace(std::move(*started));
    // It says "ready" once every socket is bound; one whose bind failed has exited.
    REQUIRE(Eventually(
        [&] { return process->Stdout().find("ready") != std::string::npos || !process->Running(); },
        10s));
    INFO(process->Stdout() << process->Stderr());
    REQUIRE(process->Running());
    control.set(zmq::sockopt::linger, 0);
    control.set(zmq::sockopt::rcvtimeo, 10000);
    control.connect("tcp://" + address + ":" + std::to_string(control_port));
  }
  ~Publisher() { process->Stop(); }

  std::string Command(const std::string& json) {
    control.send(zmq::buffer(json), zmq::send_flags::none);
    zmq::message_t reply;
    auto got = control.recv(reply, zmq::recv_flags::none);
    INFO(process->Stdout() << process->Stderr());
    REQUIRE(got.has_value());
    std::string text = reply.to_string();
    // A publisher numbers its own batches from 0, again after a restart: another number means
    // the command reached another publisher.
    if (json == R"({"op":"restart"})") {
      next_seq = 0;
    } else if (text.starts_with("ok ")) {
      REQUIRE(text == "ok " + std::to_string(next_seq));
      ++next_seq;
    }
    return text;
  }
};

std::vector<uint32_t> Tokens(uint32_t first, size_t count) {
  std::vector<uint32_t> tokens(count);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

std::string Join(const std::vector<uint32_t>& values) {
  std::string out;
  for (uint32_t v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

// One BlockStored of 16-token blocks with engine hashes `hashes`, in the array or map encoding.
std::string Stored(bool map, const std::vector<uint32_t>& hashes, std::optional<uint32_t> parent,
                   const std::vector<uint32_t>& tokens) {
  const std::string parent_json = parent ? std::to_string(*parent) : "null";
  if (map) {
    return R"({"type":"BlockStored","block_hashes":[)" + Join(hashes) +
           R"(],"parent_block_hash":)" + parent_json + R"(,"token_ids":[)" + Join(tokens) +
           R"(],"block_size":16,"lora_id":null,"medium":"GPU","lora_name":null,)"
           R"("extra_keys":null,"group_idx":0,"kv_cache_spec_kind":"full_attention"})";
  }
  return R"(["BlockStored",[)" + Join(hashes) + "]," + parent_json + ",[" + Join(tokens) +
         R"(],16,null,"GPU",null])";
}

std::string Removed(bool map, uint32_t hash) {
  if (map) return R"({"type":"BlockRemoved","block_hashes":[)" + std::to_string(hash) + "]}";
  return R"(["BlockRemoved",[)" + std::to_string(hash) + R"(],"GPU"])";
}

// `rank`: the batch's data_parallel_rank ("null": left out, as older engines do).
std::string Batch(const std::string& op, const std::string& event, const std::string& rank = "0") {
  return R"({"op":")" + op + R"(","batch":[1789095808.5,[)" + event + "]," + rank + "]}";
}

// Leading blocks of `tokens` the index says `slot` holds.
uint32_t Held(const discovery::KvBlockIndex& index, uint32_t slot,
              const std::vector<uint32_t>& tokens) {
  std::vector<discovery::KvBlockMatch> matches;
  index.Match(0, discovery::KvBlockKeys("", tokens, 16), matches);
  for (const auto& match : matches) {
    if (match.endpoint == slot) return match.blocks;
  }
  return 0;
}

// Waits until the subscriber's subscription reached `publisher`: from then on the live stream
// gets what it publishes. At most 10 s.
bool Subscribed(Publisher& publisher) {
  return Eventually([&] { return publisher.Command(R"({"op":"subscribed"})") != "subscribed 0"; },
                    10s);
}

// Sends `command` until `seen` holds (a ZMQ SUB drops what is published before its subscription
// reached the publisher), at most 10 s.
bool Until(Publisher& publisher, const std::string& command, const std::function<bool()>& seen) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    publisher.Command(command);
    if (Eventually(seen, 500ms)) return true;
  }
  return false;
}

// The YAML of one prefill pod at `address` whose engine publishes on `port`/`replay_port`, with
// `args_extra` added to kvcache-aware's args.
config::LoadResult OnePod(const std::string& address, uint16_t port, uint16_t replay_port,
                          const std::string& args_extra = "") {
  return LoadYaml(std::string(kServerYaml) + "---\n" +
                  Pod("p0", "    app: ds\n    group: g\n    role: prefill", address) +
                  "---\napiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\n"
                  "metadata: {name: r}\nspec:\n  scheduler:\n    pluginConfig:\n"
                  "      - name: kvcache-aware\n        args: {kvEventsPort: " +
                  std::to_string(port) + ", kvEventsReplayPort: " + std::to_string(replay_port) +
                  args_extra + "}\n");
}

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

// A subscriber, started, following the one pod of `loaded` into a fresh index.
struct Following {
  explicit Following(config::LoadResult result) : loaded(std::move(result)) {
    INFO(StrJoin(loaded.errors, "\n"));
    REQUIRE(loaded.errors.empty());
    snapshot = discovery::BuildEndpointSnapshot(loaded.config, &registry);
    slot = snapshot->servers[0].endpoints[0].live->slot();
    subscriber.Start();
  }
  config::LoadResult loaded;
  discovery::LiveRegistry registry;
  std::shared_ptr<const discovery::EndpointSnapshot> snapshot;
  uint32_t slot = 0;
  std::shared_ptr<discovery::KvBlockIndex> index =
      std::make_shared<discovery::KvBlockIndex>(1000, 1);
  discovery::KvEventSubscriber subscriber{[this] {
    return discovery::KvEventTargets{snapshot, index};
  }};
};

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
