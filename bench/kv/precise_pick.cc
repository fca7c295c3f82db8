// Case `precise-pick`: the cost per request of precise (token-id) scoring on 64 endpoints with a
// warm KV block index, step by step: hashing the prompt's token ids into block keys (what a
// tokenize-cache hit costs before the lookup), the index lookup alone, and a whole
// Scheduler::Pick with the token ids vs without them (the approximate fallback, which hashes the
// prompt bytes instead). The steps run interleaved on the same request, so the machine's drift
// hits each alike.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/kv/kv_bench.h"
#include "pd_scheduler/scheduler.h"

namespace pdgate::kvbench {
namespace {

using Clock = std::chrono::steady_clock;

double Ns(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::nano>(to - from).count();
}

constexpr size_t kPoolPrompts = 512;
constexpr size_t kPromptsPerEndpoint = 40;

}  // namespace

void RunPrecisePick(const Options& options) {
  const int picks = options.quick ? 2000 : 20000;
  auto cluster = MakeCluster();
  SetLoad(*cluster, 7);
  const discovery::ServerEndpoints& server = cluster->server();
  const config::SchedulerSettings& settings = cluster->scheduler();
  auto kv_index = std::make_shared<discovery::KvBlockIndex>(
      size_t(settings.kv_cache_aware.max_indexed_blocks), kReaderSlots);
  pd_scheduler::Scheduler scheduler(settings,
                                    std::make_shared<pd_scheduler::PrefixIndex>(
                                        size_t(settings.prefix_cache.max_hash_cache_size)),
                                    kv_index);
  if (!scheduler.wants_prompt_tokens()) std::abort();

  const PromptPool pool = MakePromptPool(kPoolPrompts);
  const std::vector<Holding> holdings = WarmIndex(*cluster, pool, kPromptsPerEndpoint, *kv_index);
  std::mt19937_64 rng(1);
  // The approximate index learns the same holdings from routed requests, as pdgate records them.
  const uint32_t full_blocks = uint32_t(kPromptTokens / kBlockSize);
  for (const Holding& h : holdings) {
    const std::string& text = pool.text[h.prompt];
    pd_scheduler::RequestFacts facts;
    facts.model = "m";
    facts.prompt = std::string_view(text).substr(0, text.size() * h.blocks / full_blocks);
    const pd_scheduler::Decision decision = scheduler.Pick(server, facts, Clock::now(), rng, 3);
    scheduler.RecordServed(decision, server.endpoints[h.endpoint]);
  }

  const uint32_t max_blocks = uint32_t(settings.kv_cache_aware.max_blocks_to_match);
  std::vector<double> keys_all, keys_capped, match, precise, approximate;
  std::vector<discovery::KvBlockMatch> held;
  double holders = 0, longest = 0, precise_ratio = 0, approximate_ratio = 0;
  size_t sink = 0;
  const int warmup = 256;
  for (int i = 0; i < warmup + picks; ++i) {
    const size_t p = rng() % pool.tokens.size();
    const std::vector<uint32_t>& tokens = pool.tokens[p];
    pd_scheduler::RequestFacts facts;
    facts.model = "m";
    facts.prompt = pool.text[p];
    facts.kv_reader = 0;

    const auto t0 = Clock::now();
    const std::vector<uint64_t> all = discovery::KvBlockKeys("", tokens, kBlockSize);
    const auto t1 = Clock::now();
    const std::vector<uint64_t> capped = discovery::KvBlockKeys("", tokens, kBlockSize, max_blocks);
    const auto t2 = Clock::now();
    kv_index->Match(0, capped, held);
    const auto t3 = Clock::now();
    facts.prompt_tokens = tokens;
    const pd_scheduler::Decision with_ids = scheduler.Pick(server, facts, t3, rng, 3);
    const auto t4 = Clock::now();
    facts.prompt_tokens = {};
    const auto t5 = Clock::now();
    const pd_scheduler::Decision without_ids = scheduler.Pick(server, facts, t5, rng, 3);
    const auto t6 = Clock::now();

    if (!with_ids.kv_precise || without_ids.kv_precise) std::abort();
    sink += all.size() + capped.size() + with_ids.pairs.size() + without_ids.pairs.size();
    if (i < warmup) continue;
    keys_all.push_back(Ns(t0, t1));
    keys_capped.push_back(Ns(t1, t2));
    match.push_back(Ns(t2, t3));
    precise.push_back(Ns(t3, t4));
    approximate.push_back(Ns(t5, t6));
    holders += double(held.size());
    longest += held.empty() ? 0 : double(held[0].blocks);
    precise_ratio += with_ids.prefix_match_ratio;
    approximate_ratio += without_ids.prefix_match_ratio;
  }
  if (sink == 0) std::abort();

  const discovery::KvIndexStats stats = kv_index->stats();
  std::printf(
      "\n#### precise-pick: cost per request (%d endpoints, %d groups, %zu-token prompt)\n\n",
      kEndpoints, kEndpoints / 4, kPromptTokens);
  std::printf("| step | mean ns | p50 ns | p99 ns |\n|---|---|---|---|\n");
  auto row = [](const char* name, std::vector<double> samples) {
    const Summary s = Summarize(std::move(samples));
    std::printf("| %s | %.0f | %.0f | %.0f |\n", name, s.mean, s.p50, s.p99);
  };
  char name[160];
  std::snprintf(name, sizeof name, "`KvBlockKeys`, all %zu blocks of the prompt",
                kPromptTokens / kBlockSize);
  row(name, std::move(keys_all));
  std::snprintf(name, sizeof name,
                "`KvBlockKeys`, first %u blocks (maxBlocksToMatch: what a pick hashes)",
                max_blocks);
  row(name, std::move(keys_capped));
  std::snprintf(name, sizeof name, "`KvBlockIndex::Match`, %u keys", max_blocks);
  row(name, std::move(match));
  row("`Scheduler::Pick`, precise (`prompt_tokens` set)", std::move(precise));
  row("`Scheduler::Pick`, approximate fallback (`prompt_tokens` empty)", std::move(approximate));
  const double n = double(picks);
  std::printf(
      "\n%d picks after %d warm-up, 3 targets each. Index: %zu (endpoint, block) entries, every "
      "endpoint holding %zu of %zu prompts (whole or a leading 25-100 %%); a request's prefix was "
      "held by %.1f endpoints on average, the longest holding %.1f of its %u matched blocks. Mean "
      "prefix_match_ratio of the chosen prefill: precise %.3f, approximate %.3f.\n",
      picks, warmup, stats.entries, kPromptsPerEndpoint, kPoolPrompts, holders / n, longest / n,
      max_blocks, precise_ratio / n, approximate_ratio / n);
}

}  // namespace pdgate::kvbench
