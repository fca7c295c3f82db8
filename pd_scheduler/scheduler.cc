#include "pd_scheduler/scheduler.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>
#include <span>

#include "pd_scheduler/scheduler_impl.h"

namespace pdgate::pd_scheduler {

using discovery::Endpoint;
using discovery::EndpointRole;
using discovery::ServerEndpoints;

namespace {

using scheduler_internal::Plugin;
using scheduler_internal::Side;
using scheduler_internal::WeightedPlugin;

constexpr double kExcluded = -std::numeric_limits<double>::infinity();

// splitmix64's finaliser: rendezvous weights from (key, endpoint) hashes.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

Scheduler::Scheduler(const config::SchedulerSettings& settings, std::shared_ptr<PrefixIndex> index,
                     std::shared_ptr<discovery::KvBlockIndex> kv_index)
    : impl_(std::make_unique<Impl>()), index_(std::move(index)), kv_index_(std::move(kv_index)) {
  Impl& impl = *impl_;
  impl.settings = settings;
  for (const std::string& filter : settings.filters) {
    if (filter == "least-request") impl.filter_least_request = true;
    if (filter == "lora-affinity") impl.filter_lora = true;
  }
  for (const config::ScorePluginSetting& score : settings.scores) {
    Plugin plugin;
    if (score.name == "least-request") {
      plugin = Plugin::kLeastRequest;
    } else if (score.name == "gpu-usage") {
      plugin = Plugin::kGpuUsage;
    } else if (score.name == "least-latency") {
      plugin = Plugin::kLeastLatency;
    } else if (score.name == "prefix-cache") {
      plugin = Plugin::kPrefixCache;
      impl.prefix_weight = score.weight;
    } else if (score.name == "random") {
      plugin = Plugin::kRandom;
    } else if (score.name == "session-affinity") {
      plugin = Plugin::kSession;
    } else if (score.name == "kvcache-aware") {
      plugin = Plugin::kKvCacheAware;
      impl.kv_weight = score.weight;
    } else {
      continue;  // the configuration parser accepts only the names above
    }
    if (score.weight > 0) impl.plugins.push_back({plugin, double(score.weight)});
  }
  // Joint least-request weighs a prefill's uncached tokens, so it needs the prompt's blocks too.
  const bool joint_least_request =
      settings.pair_selection == config::PairSelection::kJoint &&
      std::any_of(impl.plugins.begin(), impl.plugins.end(),
                  [](const WeightedPlugin& p) { return p.plugin == Plugin::kLeastRequest; });
  // (kvcache-aware falls back on the approximate index when a prompt's tokens are unknown.)
  impl.hash_prompts = index_ != nullptr && (impl.prefix_weight > 0 || impl.kv_weight > 0 ||
                                            settings.decider.enabled || joint_least_request);
}

bool Scheduler::wants_prompt_tokens() const { return kv_index_ != nullptr && impl_->kv_weight > 0; }

Scheduler::~Scheduler() = default;

namespace {

// The session's rendezvous choice among `candidates`: the highest Mix(key ^ endpoint).
uint32_t Rendezvous(uint64_t key, const ServerEndpoints& server,
                    std::span<const uint32_t> candidates) {
  uint32_t best = candidates[0];
  uint64_t best_weight = 0;
  for (uint32_t i : candidates) {
    const uint64_t weight = Mix(key ^ server.endpoints[i].live->key_hash());
    if (weight >= best_weight) {
      best_weight = weight;
      best = i;
    }
  }
  return best;
}

}  // namespace

Decision Scheduler::PickAmong(const ServerEndpoints& server, const RequestFacts& facts,
                              discovery::SteadyTime now, std::mt19937_64& rng, size_t max_targets,
                              bool include_unavailable, bool& left_out) const {
  const Impl& impl = *impl_;
  const config::SchedulerSettings& settings = impl.settings;
  Decision decision;
  decision.prompt_bytes = facts.prompt.size();
  const size_t n = server.endpoints.size();
  if (n == 0 || max_targets == 0) {
    decision.reason = DecisionReason::kNoEndpoints;
    return decision;
  }
  // The pick's per-endpoint vectors keep their capacity on this thread from pick to pick.
  thread_local Impl::PickVectors spare;
  Impl::Pick pick{server,
                  facts,
                  now,
                  rng,
                  std::move(spare.score),
                  std::move(spare.matched),
                  std::move(spare.affinity),
                  0,
                  std::move(spare.load),
                  include_unavailable,
                  left_out,
                  false,
                  {},
                  0};
  pick.room = std::move(spare.room);
  pick.room.clear();  // empty: not computed
  const Impl::PickVectors::GiveBack give_back{spare, pick};
  pick.score.assign(n, kExcluded);
  pick.matched.assign(n, 0);
  pick.affinity.assign(n, 0);
  pick.load.assign(n, discovery::EngineLoad{});

  if (impl.hash_prompts) {
    const config::PrefixCacheArgs& args = settings.prefix_cache;
    decision.prompt_hashes =
        HashPromptBlocks(facts.model, facts.prompt, size_t(args.block_size_to_hash),
                         size_t(args.max_blocks_to_match));
    pick.total_blocks = decision.prompt_hashes.size();
    thread_local std::vector<PrefixMatch> matches;
    if ((impl.prefix_weight > 0 || impl.kv_weight > 0) && pick.total_blocks > 0) {
      thread_local std::vector<uint32_t> slots;
      slots.clear();
      for (const Endpoint& endpoint : server.endpoints) slots.push_back(endpoint.live->slot());
      index_->Lookup(slots, decision.prompt_hashes, size_t(args.top_k_matches), pick.room, matches);
    } else {
      index_->Match(decision.prompt_hashes, size_t(args.top_k_matches), matches);
    }
    for (const PrefixMatch& match : matches) {
      for (size_t i = 0; i < n; ++i) {
        if (server.endpoints[i].live->slot() == match.slot) pick.matched[i] = match.blocks;
      }
    }
  }
  if (!facts.prompt_tokens.empty() && wants_prompt_tokens()) {
    const config::KvCacheAwareArgs& args = settings.kv_cache_aware;
    thread_local std::vector<discovery::KvBlockMatch> held;
    const std::vector<uint64_t> keys =
        discovery::KvBlockKeys(facts.kv_root, facts.prompt_tokens,
                               uint32_t(args.block_size_to_hash), size_t(args.max_blocks_to_match));
    pick.precise = true;
    pick.kv_total = keys.size();
    pick.kv_matched.assign(n, 0);
    kv_index_->Match(facts.kv_reader, keys, held);
    for (const discovery::KvBlockMatch& match : held) {
      for (size_t i = 0; i < n; ++i) {
        if (server.endpoints[i].live->slot() == match.endpoint) pick.kv_matched[i] = match.blocks;
      }
    }
    decision.kv_precise = true;
  }
  const uint64_t session = facts.session_key.empty()
                               ? 0
                               : XXH3_64bits(facts.session_key.data(), facts.session_key.size());
  auto ratio = [&](uint32_t i) { return Impl::CachedRatio(pick, i); };

  // --- Aggregated: one leg; every plugin on every endpoint. ---
  if (!server.server->disaggregated()) {
    std::vector<uint32_t> candidates;  // becomes the decision's list
    impl.Candidates(pick, EndpointRole::kAggregated, candidates);
    if (candidates.empty()) {
      decision.reason = DecisionReason::kNoEndpoints;
      return decision;
    }
    if (session != 0) pick.affinity[Rendezvous(session, server, candidates)] = 1;
    impl.Score(pick, candidates, Side::kAll);
    impl.SortByScore(pick, candidates);
    if (candidates.size() > max_targets) candidates.resize(max_targets);
    decision.mode = DecisionMode::kAggregated;
    decision.reason = DecisionReason::kAggregated;
    decision.prefix_match_ratio = ratio(candidates[0]);
    decision.singles = std::move(candidates);
    return decision;
  }

  // --- PD. ---
  const bool joint = settings.pair_selection == config::PairSelection::kJoint;
  thread_local Impl::PdLists spare_lists;
  Impl::PdLists own_lists;
  Impl::PdLists& lists = spare_lists.busy ? own_lists : spare_lists;
  lists.busy = true;
  const struct Release {
    Impl::PdLists& lists;
    ~Release() { lists.busy = false; }
  } release{lists};
  std::vector<uint32_t>& prefills = lists.prefills;
  std::vector<uint32_t>& decodes = lists.decodes;
  impl.Candidates(pick, EndpointRole::kPrefill, prefills);
  impl.Candidates(pick, EndpointRole::kDecode, decodes);
  // Group membership, by group index; per group its candidates of each role are counted, and
  // listed only for the few groups that need a list (no allocation per group per pick).
  const size_t groups = server.groups.size();
  std::vector<int32_t>& group_of = lists.group_of;
  group_of.assign(n, -1);
  for (size_t g = 0; g < groups; ++g) {
    for (uint32_t i : server.groups[g].prefill) group_of[i] = int32_t(g);
    for (uint32_t i : server.groups[g].decode) group_of[i] = int32_t(g);
  }
  std::vector<uint16_t>& prefill_count = lists.prefill_count;
  std::vector<uint16_t>& decode_count = lists.decode_count;
  prefill_count.assign(groups, 0);
  decode_count.assign(groups, 0);
  for (uint32_t i : prefills) ++prefill_count[size_t(group_of[i])];
  for (uint32_t i : decodes) ++decode_count[size_t(group_of[i])];
  std::vector<uint32_t>& servable = lists.servable;  // groups with a candidate of each role
  servable.clear();
  for (uint32_t g = 0; g < groups; ++g) {
    if (prefill_count[g] > 0 && decode_count[g] > 0) servable.push_back(g);
  }
  // The candidates of `role` in group g, into `out`.
  auto members_into = [&](const std::vector<uint32_t>& role, uint32_t g,
                          std::vector<uint32_t>& out) -> const std::vector<uint32_t>& {
    out.clear();
    for (uint32_t i : role) {
      if (group_of[i] == int32_t(g)) out.push_back(i);
    }
    return out;
  };
  auto members = [&](const std::vector<uint32_t>& role, uint32_t g) {
    std::vector<uint32_t> out;
    members_into(role, g, out);
    return out;
  };

  if (session != 0 && !servable.empty()) {
    // The session keeps its group while the group can serve, and its members within it.
    uint32_t chosen = servable[0];
    uint64_t best_weight = 0;
    for (uint32_t g : servable) {
      const std::string& name = server.groups[g].name;
      const uint64_t weight = Mix(session ^ XXH3_64bits(name.data(), name.size()));
      if (weight >= best_weight) {
        best_weight = weight;
        chosen = g;
      }
    }
    pick.affinity[Rendezvous(session, server, members_into(prefills, chosen, lists.group))] = 1;
    pick.affinity[Rendezvous(session, server, members_into(decodes, chosen, lists.group))] = 1;
  }

  if (!decodes.empty()) impl.Score(pick, decodes, joint ? Side::kDecode : Side::kAll);

  // The decider looks at the decode that would serve alone: the best by score and cache.
  const config::DeciderSettings& decider = settings.decider;
  if (facts.decode_only_possible && !decodes.empty() &&
      (decider.enabled || (decider.decode_only_without_prefill && servable.empty()))) {
    auto alone = [&](uint32_t i) {
      return pick.score[i] + (impl.prefix_weight + impl.kv_weight) * 100 * ratio(i);
    };
    const uint32_t best =
        *std::max_element(decodes.begin(), decodes.end(),
                          [&](uint32_t a, uint32_t b) { return alone(a) < alone(b); });
    const size_t uncached = impl.UncachedTokens(pick, best);
    std::optional<DecisionReason> reason;
    if (decider.enabled && uncached <= size_t(decider.max_uncached_prompt_tokens)) {
      reason = DecisionReason::kShortPrompt;
    } else if (decider.decode_only_without_prefill && servable.empty()) {
      reason = DecisionReason::kNoPrefill;
    }
    if (reason) {
      impl.SortByScore(pick, decodes);
      std::erase(decodes, best);
      decodes.insert(decodes.begin(), best);
      if (decodes.size() > max_targets) decodes.resize(max_targets);
      decision.mode = DecisionMode::kDecodeOnly;
      decision.reason = *reason;
      decision.prefix_match_ratio = ratio(best);
      decision.singles.assign(decodes.begin(), decodes.end());
      return decision;
    }
  }
  if (servable.empty()) {
    decision.reason = prefills.empty() ? DecisionReason::kNoPrefill : DecisionReason::kNoDecode;
    return decision;
  }

  if (joint) {
    impl.Score(pick, prefills, Side::kPrefill);
    // Each group's best prefill and best decode, in one pass over the candidates.
    std::vector<int64_t> best_prefill(groups, -1), best_decode(groups, -1);
    for (uint32_t i : prefills) {
      int64_t& best = best_prefill[size_t(group_of[i])];
      if (best < 0 || pick.score[i] > pick.score[size_t(best)]) best = i;
    }
    for (uint32_t i : decodes) {
      int64_t& best = best_decode[size_t(group_of[i])];
      if (best < 0 || pick.score[i] > pick.score[size_t(best)]) best = i;
    }
    struct GroupPick {
      uint32_t group;
      double score;
    };
    std::vector<GroupPick> ranked;
    ranked.reserve(servable.size());
    for (uint32_t g : servable) {
      ranked.push_back(
          {g, pick.score[size_t(best_prefill[g])] + pick.score[size_t(best_decode[g])]});
    }
    auto better = [](const GroupPick& x, const GroupPick& y) { return x.score > y.score; };
    const size_t first_round = std::min(max_targets, ranked.size());
    std::partial_sort(ranked.begin(), ranked.begin() + ptrdiff_t(first_round), ranked.end(),
                      better);
    for (size_t k = 0; k < first_round; ++k) {
      const uint32_t g = ranked[k].group;
      decision.pairs.push_back({uint32_t(best_prefill[g]), uint32_t(best_decode[g])});
    }
    // More targets than groups: round r pairs the r-th best prefill and decode of each group.
    if (decision.pairs.size() < max_targets) {
      std::vector<std::vector<uint32_t>> p(ranked.size()), d(ranked.size());
      for (size_t k = 0; k < ranked.size(); ++k) {
        p[k] = members(prefills, ranked[k].group);
        d[k] = members(decodes, ranked[k].group);
        impl.SortByScore(pick, p[k]);
        impl.SortByScore(pick, d[k]);
      }
      for (size_t round = 1; decision.pairs.size() < max_targets; ++round) {
        bool any = false;
        for (size_t k = 0; k < ranked.size() && decision.pairs.size() < max_targets; ++k) {
          if (round >= std::max(p[k].size(), d[k].size())) continue;
          any = true;
          decision.pairs.push_back({p[k][round % p[k].size()], d[k][round % d[k].size()]});
        }
        if (!any) break;
      }
    }
  } else {
    // Kthena: the top decodes by every plugin, then the best prefill of each one's group,
    // scored among that group's prefills alone.
    constexpr size_t kTopDecodes = 5;
    std::vector<uint32_t>& top = lists.top;
    top.assign(decodes.begin(), decodes.end());
    impl.SortByScore(pick, top);
    for (uint32_t d : top) {
      if (decision.pairs.size() >= std::max(max_targets, kTopDecodes)) break;
      const std::vector<uint32_t>& group =
          members_into(prefills, uint32_t(group_of[d]), lists.group);
      if (group.empty()) continue;
      impl.Score(pick, group, Side::kAll);
      decision.pairs.push_back({impl.Best(pick, group), d});
    }
    if (decision.pairs.size() > max_targets) decision.pairs.resize(max_targets);
  }
  for (const PdPair& pair : decision.pairs) {
    decision.prefill_tokens.push_back(uint32_t(impl.UncachedTokens(pick, pair.prefill)));
  }
  decision.mode = DecisionMode::kDisaggregated;
  decision.reason = decider.enabled ? DecisionReason::kLongPrompt : DecisionReason::kDeciderOff;
  decision.prefix_match_ratio = ratio(decision.pairs[0].prefill);
  return decision;
}

}  // namespace pdgate::pd_scheduler
