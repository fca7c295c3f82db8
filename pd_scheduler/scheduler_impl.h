#pragma once
// Scheduler::Impl: the settings resolved into filters and weighted score plugins, and the scoring
// of one pick. Internal: shared by scheduler.cc (construction, the pick) and scheduler_scoring.cc
// (candidates, filters, score plugins).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "pd_scheduler/scheduler.h"

namespace pdgate::pd_scheduler {
namespace scheduler_internal {

enum class Plugin {
  kLeastRequest,
  kGpuUsage,
  kLeastLatency,
  kPrefixCache,
  kRandom,
  kSession,
  kKvCacheAware
};

struct WeightedPlugin {
  Plugin plugin;
  double weight;
};

// Which signals a score uses: a role's own in joint mode, all of them otherwise.
enum class Side { kPrefill, kDecode, kAll };

}  // namespace scheduler_internal

struct Scheduler::Impl {
  using Plugin = scheduler_internal::Plugin;
  using Side = scheduler_internal::Side;
  using WeightedPlugin = scheduler_internal::WeightedPlugin;

  config::SchedulerSettings settings;
  std::vector<WeightedPlugin> plugins;
  bool filter_least_request = false;
  bool filter_lora = false;
  bool hash_prompts = false;
  double prefix_weight = 0;
  double kv_weight = 0;

  // Per pick; lives on the caller's stack.
  struct Pick {
    const discovery::ServerEndpoints& server;
    const RequestFacts& facts;
    discovery::SteadyTime now;
    std::mt19937_64& rng;
    std::vector<double> score;      // per endpoint index; kExcluded when not a candidate
    std::vector<uint32_t> matched;  // prefix blocks held, per endpoint index
    std::vector<uint8_t> affinity;  // 1: the session's rendezvous choice
    size_t total_blocks = 0;
    std::vector<discovery::EngineLoad> load;  // read once per candidate
    bool include_unavailable;                 // every endpoint of a role is a candidate
    bool& left_out;                           // set when an unavailable endpoint was skipped
    // kvcache-aware with the prompt's tokens: leading blocks each endpoint holds, per the
    // engines' events, out of `kv_total`.
    bool precise = false;
    std::vector<uint32_t> kv_matched;
    size_t kv_total = 0;
    // Blocks each endpoint's engine can still take before evicting (-1: unknown); empty when
    // not computed (neither prefix-cache nor kvcache-aware scores, or an empty prompt).
    std::vector<int64_t> room{};
  };

  // A pick's per-endpoint vectors between picks (a nested pick finds them taken and allocates).
  struct PickVectors {
    std::vector<double> score;
    std::vector<uint32_t> matched;
    std::vector<uint8_t> affinity;
    std::vector<discovery::EngineLoad> load;
    std::vector<int64_t> room;

    // Puts the pick's vectors back, however the pick returns.
    struct GiveBack {
      PickVectors& spare;
      Pick& pick;
      ~GiveBack() {
        spare.score = std::move(pick.score);
        spare.matched = std::move(pick.matched);
        spare.affinity = std::move(pick.affinity);
        spare.load = std::move(pick.load);
        spare.room = std::move(pick.room);
      }
    };
  };

  // A PD pick's lists, kept by the thread from pick to pick (about ten allocations a pick
  // before). A nested pick finds them busy and uses lists of its own.
  struct PdLists {
    std::vector<uint32_t> prefills, decodes, servable, top, group;
    std::vector<int32_t> group_of;  // per endpoint index: its group, -1 for none
    std::vector<uint16_t> prefill_count, decode_count;  // per group: its candidates of each role
    bool busy = false;
  };
  // Defined in scheduler_scoring.cc; the small helpers below stay inline for the pick.
  // The candidates of `role` into `candidates` (cleared first).
  void Candidates(Pick& pick, discovery::EndpointRole role,
                  std::vector<uint32_t>& candidates) const;
  template <typename Keep>
  static void Filter(std::vector<uint32_t>& candidates, const Keep& keep);
  void Score(Pick& pick, std::span<const uint32_t> candidates, Side side) const;
  void ScoreLatency(Pick& pick, std::span<const uint32_t> candidates, Side side,
                    double weight) const;

  // This request's prompt tokens that endpoint i has not cached (by the prefix index).
  size_t UncachedTokens(const Pick& pick, uint32_t i) const {
    const size_t bytes_per_token = size_t(std::max(1, settings.decider.bytes_per_token));
    const size_t approximate_cached = size_t(pick.matched[i]) *
                                      size_t(settings.prefix_cache.block_size_to_hash) /
                                      bytes_per_token;
    if (pick.precise) {
      // Ids that are only the prompt's prefix's (the tokenize prefix cache) leave its last
      // message out: the byte estimate counts it.
      size_t prompt = pick.facts.prompt_tokens.size();
      if (!pick.facts.prompt_tokens_whole) {
        prompt = std::max(prompt, pick.facts.prompt.size() / bytes_per_token);
      }
      // As CachedRatio: the events, or what the approximate index was told at routing time while
      // the events of a prefill still running have not come (else a burst of one new prefix is
      // spread by its queue cost while its score holds it together).
      const size_t cached =
          std::max(size_t(pick.kv_matched[i]) * size_t(settings.kv_cache_aware.block_size_to_hash),
                   approximate_cached);
      return prompt > cached ? prompt - cached : 0;
    }
    const size_t prompt = pick.facts.prompt.size() / bytes_per_token;
    return prompt > approximate_cached ? prompt - approximate_cached : 0;
  }

  // The part of the prompt endpoint i holds: by the engines' events when precise, else by the
  // approximate prefix index.
  static double CachedRatio(const Pick& pick, uint32_t i) {
    const double approximate =
        pick.total_blocks == 0 ? 0.0 : double(pick.matched[i]) / double(pick.total_blocks);
    if (!pick.precise) return approximate;
    const double held =
        pick.kv_total == 0 ? 0.0 : double(pick.kv_matched[i]) / double(pick.kv_total);
    // The events tell what an engine stored once its prefill ran; the approximate index was told
    // at routing time. The larger of the two keeps a burst of one new prefix together while its
    // first prefill still runs.
    return std::max(held, approximate);
  }

  // The part of the prompt endpoint i's engine would have to evict other blocks for (pdgate):
  // what it does not hold beyond the room its cache has left. 0 when its size is not known (or
  // larger than the index's own bound), where the scores are Kthena's. (A bonus for the room an
  // engine has instead, Kthena's score when caches are full, measured 50-68% prefill hits
  // against 81-88%: the index counts at most maxBlocksToMatch blocks of a prompt, so it sees more
  // room than an engine has, and the bonus pulled prefixes onto engines that had none.)
  static double EvictedRatio(const Pick& pick, uint32_t i) {
    if (pick.room.empty() || pick.room[i] < 0 || pick.total_blocks == 0) return 0.0;
    const double uncached = double(pick.total_blocks) * (1 - CachedRatio(pick, i));
    return std::max(0.0, uncached - double(pick.room[i])) / double(pick.total_blocks);
  }

  uint32_t Best(const Pick& pick, std::span<const uint32_t> candidates) const {
    return *std::max_element(candidates.begin(), candidates.end(),
                             [&](uint32_t a, uint32_t b) { return pick.score[a] < pick.score[b]; });
  }

  void SortByScore(const Pick& pick, std::vector<uint32_t>& list) const {
    std::sort(list.begin(), list.end(),
              [&](uint32_t a, uint32_t b) { return pick.score[a] > pick.score[b]; });
  }
};

}  // namespace pdgate::pd_scheduler
