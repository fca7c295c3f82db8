#pragma once
// Choosing where a request runs: (endpoint snapshot, request facts, now, seeded RNG) → a
// Decision with the attempts' targets, best first. Pure apart from the prefix index it reads;
// never blocks on I/O.
//
// Pipeline, per role: available endpoints (not ejected, not failing probes) → filters
// (least-request, lora-affinity; a filter that would empty a role is skipped, so an overloaded
// cluster still serves rather than failing) → weighted score plugins, each 0..100 (Kthena's
// names, args and formulas) → a random tie-break far below one point.
//
// Pairs (PairSelection):
//  - joint (default): prefill members scored on what decides TTFT (prefix-cache hits, queued
//    prefills, TTFT), decode members on what decides decoding (in-flight decodes, KV usage,
//    inter-token latency); each group offers its best prefill + best decode, and groups compete
//    on the sum. One pass over the endpoints, whatever their number.
//  - decode-first (Kthena): every plugin on the decode pods, the top ones, then the best prefill
//    of each one's group.
// Retries get pairs from other groups first.
//
// The decider (off by default) serves a PD request on a decode endpoint alone when its uncached
// prompt is short, or, if asked, when no prefill can serve.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "config/router_settings.h"
#include "discovery/endpoint_snapshot.h"
#include "discovery/kv_block_index.h"
#include "pd_scheduler/decision_kind.h"
#include "pd_scheduler/prefix_index.h"

namespace pdgate::pd_scheduler {

// One attempt's pair: indices into ServerEndpoints::endpoints.
struct PdPair {
  uint32_t prefill = 0;
  uint32_t decode = 0;
  friend bool operator==(const PdPair&, const PdPair&) = default;
};

struct RequestFacts {
  std::string_view model;        // as requested (a LoRA adapter's name for lora-affinity)
  std::string_view prompt;       // bytes hashed for prefix affinity (the raw messages/prompt JSON)
  std::string_view session_key;  // X-Session-ID, else the `user` field; empty: no affinity
  bool decode_only_possible = true;  // false where a decode engine cannot prefill (SGLang PD)
  // kvcache-aware: the prompt's token ids (empty: unknown, so the approximate prefix index
  // scores instead), the root of their block chain (a LoRA adapter's name, "" for the base
  // model: what the engines' events carry), and the caller's reader slot in the KV block index.
  std::span<const uint32_t> prompt_tokens{};
  std::string_view kv_root{};
  uint32_t kv_reader = 0;
  // false: `prompt_tokens` are the ids of the prompt's messages before its last one (cached from
  // earlier requests); its length is then estimated from the bytes as well.
  bool prompt_tokens_whole = true;
};

struct Decision {
  DecisionMode mode = DecisionMode::kNone;
  DecisionReason reason = DecisionReason::kNoEndpoints;
  std::vector<PdPair> pairs;             // kDisaggregated
  std::vector<uint32_t> prefill_tokens;  // per pair: the prompt tokens its prefill must compute
  std::vector<uint32_t> singles;         // kDecodeOnly, kAggregated: endpoint indices
  std::vector<uint64_t> prompt_hashes;
  size_t prompt_bytes = 0;  // RequestFacts::prompt's size, counted on the endpoints served
  double prefix_match_ratio = -1;  // of the first target's prefill (or single); -1: not scored
  bool kv_precise = false;         // scored by the engines' KV events (prompt tokens known)
};

class Scheduler {
 public:
  // `kv_index`: the engines' KV events, for kvcache-aware; null when that plugin is off.
  Scheduler(const config::SchedulerSettings& settings, std::shared_ptr<PrefixIndex> index,
            std::shared_ptr<discovery::KvBlockIndex> kv_index = nullptr);
  ~Scheduler();

  // Up to `max_targets` targets, best first. Ejected (or probe-failed) endpoints come only after
  // the available ones: when these give fewer targets than asked, or no pair at all (a group may
  // keep only its prefill available and another only its decode), the remaining targets are
  // picked among all endpoints (scheduler_fallback.cc).
  Decision Pick(const discovery::ServerEndpoints& server, const RequestFacts& facts,
                discovery::SteadyTime now, std::mt19937_64& rng, size_t max_targets) const;

  // A leg succeeded on `endpoint`: it holds the prompt's prefix now.
  void RecordServed(const Decision& decision, const discovery::Endpoint& endpoint) const;

  // The engine behind `live` reported its cache (scraper): the prefix index keeps no more of its
  // blocks than that cache holds, converting tokens into hashed bytes with the measured ratio
  // (else decider.bytesPerToken). Falls back on prefix-cache's engineCacheTokens.
  void SizeIndexFor(const discovery::LiveEndpoint& live, const discovery::EngineCache& cache) const;

  const std::shared_ptr<PrefixIndex>& prefix_index() const { return index_; }
  const std::shared_ptr<discovery::KvBlockIndex>& kv_index() const { return kv_index_; }
  // kvcache-aware is enabled and has its index: picks use prompt tokens when given.
  bool wants_prompt_tokens() const;

 private:
  // One pass: among the available endpoints of each role (all of a role when none is), or among
  // all when `include_unavailable`. `left_out` is set when an unavailable endpoint was skipped.
  Decision PickAmong(const discovery::ServerEndpoints& server, const RequestFacts& facts,
                     discovery::SteadyTime now, std::mt19937_64& rng, size_t max_targets,
                     bool include_unavailable, bool& left_out) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<PrefixIndex> index_;
  std::shared_ptr<discovery::KvBlockIndex> kv_index_;
};

}  // namespace pdgate::pd_scheduler
