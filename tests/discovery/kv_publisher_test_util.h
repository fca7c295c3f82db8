#pragma once
// Helpers for the KV-event subscriber's tests against fake_vllm_kv_publisher.py (pyzmq and
// python3-msgpack, Debian's /usr/bin/python3): the publisher as a child process driven over its
// control socket, vLLM batches as JSON, and a subscriber following one pod into a fresh index.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include <zmq.hpp>

#include "discovery/endpoint_snapshot.h"
#include "discovery/kv_block_index.h"
#include "discovery/kv_event_subscriber.h"
#include "tests/config/config_test_util.h"
#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/net.h"
#include "tests/support/paths.h"

namespace pdgate::testing {

using namespace std::chrono_literals;

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
  std::vector<std::string> flags;

  // `flags`: more of the publisher's options (--buffer-steps).
  explicit Publisher(const std::string& layout, std::vector<std::string> extra_flags = {})
      : flags(std::move(extra_flags)) {
    Start(layout);
  }
  // A publisher on given ports (a data-parallel rank's: the base ports + rank).
  Publisher(const std::string& layout, const std::string& at, uint16_t events, uint16_t replay,
            uint16_t control_at)
      : address(at), port(events), replay_port(replay), control_port(control_at) {
    Start(layout);
  }

  void Start(const std::string& layout) {
    REQUIRE(port != 0);
    std::vector<std::string> argv = {
        "/usr/bin/python3", SourcePath("tests/discovery/fake_vllm_kv_publisher.py"),
        "--address",        address,
        "--port",           std::to_string(port),
        "--replay-port",    std::to_string(replay_port),
        "--control-port",   std::to_string(control_port),
        "--layout",         layout};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto started = ChildProcess::Start(argv);
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

inline std::vector<uint32_t> Tokens(uint32_t first, size_t count) {
  std::vector<uint32_t> tokens(count);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

inline std::string Join(const std::vector<uint32_t>& values) {
  std::string out;
  for (uint32_t v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
  return out;
}

// One BlockStored of 16-token blocks with engine hashes `hashes`, in the array or map encoding.
inline std::string Stored(bool map, const std::vector<uint32_t>& hashes,
                          std::optional<uint32_t> parent, const std::vector<uint32_t>& tokens) {
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

inline std::string Removed(bool map, uint32_t hash) {
  if (map) return R"({"type":"BlockRemoved","block_hashes":[)" + std::to_string(hash) + "]}";
  return R"(["BlockRemoved",[)" + std::to_string(hash) + R"(],"GPU"])";
}

// `rank`: the batch's data_parallel_rank ("null": left out, as older engines do).
inline std::string Batch(const std::string& op, const std::string& event,
                         const std::string& rank = "0") {
  return R"({"op":")" + op + R"(","batch":[1789095808.5,[)" + event + "]," + rank + "]}";
}

// Leading blocks of `tokens` the index says `slot` holds.
inline uint32_t Held(const discovery::KvBlockIndex& index, uint32_t slot,
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
inline bool Subscribed(Publisher& publisher) {
  return Eventually([&] { return publisher.Command(R"({"op":"subscribed"})") != "subscribed 0"; },
                    10s);
}

// Sends `command` until `seen` holds (a ZMQ SUB drops what is published before its subscription
// reached the publisher), at most 10 s.
inline bool Until(Publisher& publisher, const std::string& command,
                  const std::function<bool()>& seen) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    publisher.Command(command);
    if (Eventually(seen, 500ms)) return true;
  }
  return false;
}

// The YAML of one prefill pod at `address` whose engine publishes on `port`/`replay_port`, with
// `args_extra` added to kvcache-aware's args.
inline config::LoadResult OnePod(const std::string& address, uint16_t port, uint16_t replay_port,
                                 const std::string& args_extra = "") {
  return LoadYaml(std::string(kServerYaml) + "---\n" +
                  Pod("p0", "    app: ds\n    group: g\n    role: prefill", address) +
                  "---\napiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\n"
                  "metadata: {name: r}\nspec:\n  scheduler:\n    pluginConfig:\n"
                  "      - name: kvcache-aware\n        args: {kvEventsPort: " +
                  std::to_string(port) + ", kvEventsReplayPort: " + std::to_string(replay_port) +
                  args_extra + "}\n");
}

// A subscriber, started, following the one pod of `loaded` into a fresh index.
struct Following {
  explicit Following(config::LoadResult result, discovery::KvSubscriberOptions options = {})
      : loaded(std::move(result)),
        subscriber(
            [this] {
              return discovery::KvEventTargets{snapshot, index};
            },
            options) {
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
  discovery::KvEventSubscriber subscriber;
};

}  // namespace pdgate::testing
