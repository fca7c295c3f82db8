#pragma once
// The engine model: one scheduler per simulated engine, running on its own strand.
//
// Continuous batching as vLLM's V1 scheduler does it, simplified: FCFS waiting queue; a request is
// admitted when the running batch has fewer than max_num_seqs and the KV cache can reserve its
// blocks (prompt + planned output; prefix-cache hits reused). Each step computes one token of
// every decoding sequence and, within the max_num_batched_tokens budget, the prefills (uncached
// tokens only, chunked when the budget runs out), and lasts CostModel::StepSeconds. The first
// token of a sequence comes out of the step that completes its prefill.
//
// PD: a prefill for a remote decode (vLLM do_remote_decode) keeps its blocks after finishing with
// "length" and publishes kv_transfer_params; they are released when the decode pulls them
// (ServeKvPull) or at the hold timeout. A decode with do_remote_prefill first pulls via
// KvTransport (state "fetching", counted as waiting like vLLM's WAITING_FOR_REMOTE_KVS), then
// computes only the last prompt token. SGLang pairs meet at the prefill's bootstrap room.
//
// Thread-safety: public methods may be called from any thread; they post onto the strand. Sinks
// are called on the strand.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench/engine_sim/cost_model.h"
#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/request.h"

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

struct Metrics;
class KvTransport;

// Where the engine hands its KV-cache events (vLLM's --kv-events-config publisher): one call per
// engine step that produced some, as vLLM publishes once per scheduler step, with the wall-clock
// time in seconds. Called on the engine strand: it must not block.
class KvEventSink {
 public:
  virtual ~KvEventSink() = default;
  virtual void Publish(double ts, std::vector<KvCacheEvent> events) = 0;
};

struct EngineConfig {
  int max_num_seqs = 256;
  int max_num_batched_tokens = 8192;  // token budget of one step (chunked prefill)
  int kv_blocks = 4096;
  int block_size = 16;
  bool prefix_caching = true;
  CostModel cost;
  // vLLM side channel advertised in kv_transfer_params.
  std::string engine_id;
  std::string kv_host;
  int kv_port = 5600;
  int tp_size = 1;
  bool track_loras = false;  // publish running/waiting adapters (vllm:lora_requests_info)
  double kv_hold_timeout_s = 480;
  bool recompute_on_load_failure = false;  // --kv-load-failure-policy recompute
  // SGLang.
  double bootstrap_timeout_s = 300;  // prefill: wait for the decode to come for the room
  double waiting_timeout_s = 300;    // decode: wait for the prefill's KV
  KvEventSink* kv_events = nullptr;  // not owned, outlives the engine; null: no events kept
};

struct SeqEvent {
  enum class Kind { kTokens, kFinished };
  Kind kind = Kind::kTokens;
  int generated = 0;  // tokens generated so far (all of them when finished)
  int prompt_tokens = 0;
  int cached_tokens = 0;
  FinishReason finish = FinishReason::kStop;
  int error_status = 0;  // finish == kError
  std::string error_message;
  std::string kv_transfer_params;  // JSON object, or empty
};
using SeqSink = std::function<void(const SeqEvent&)>;

enum class PdMode {
  kNone,
  kVllmPrefill,  // do_remote_decode: hold blocks for the decode
  kVllmDecode,   // do_remote_prefill: pull blocks first
  kSglangPrefill,
  kSglangDecode,
};

struct SeqSpec {
  std::string request_id;  // engine-internal id (vLLM: API id + 9-char suffix)
  std::string rid;         // SGLang abort key
  std::string lora;        // LoRA adapter name, or empty for the base model
  std::vector<TokenId> prompt;
  OutputPlan plan;
  PdMode pd = PdMode::kNone;
  std::optional<KvTransferParams> remote;    // kVllmDecode
  std::optional<SglangBootstrap> bootstrap;  // kSglang*
  SeqSink sink;
};

// A decode's pull request as it arrives on the prefill's side channel.
struct PullRequest {
  std::string remote_engine_id;
  std::string remote_request_id;
  std::vector<int64_t> remote_block_ids;
};
struct PullReply {
  int status = 200;
  std::string body;
};
using PullReplyFn = std::function<void(PullReply)>;

class Engine {
 public:
  Engine(boost::asio::io_context& ioc, EngineConfig config, Metrics& metrics,
         KvTransport& transport);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  uint64_t Submit(SeqSpec spec);
  void Abort(uint64_t id);
  // SGLang /abort_request: aborts every live request whose rid starts with `prefix`.
  void AbortByRidPrefix(std::string prefix);
  void ServeKvPull(PullRequest request, PullReplyFn reply);
  void ServeRoomWait(uint64_t room, double timeout_s, PullReplyFn reply);
  void SetCost(CostModel cost);
  void ResetPrefixCache();
  // The configuration it started with (immutable; SetCost changes the running engine's copy).
  const EngineConfig& config() const { return initial_config_; }

 private:
  class Impl;
  const EngineConfig initial_config_;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pdgate::sim
