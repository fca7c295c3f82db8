// The simulator's pure parts: tokenizer, output plan, KV cache with prefix caching, cost model.
// Requests, responses and PD legs are in engine_sim_wire_test.cc.
#include <catch2/catch.hpp>

#include "bench/engine_sim/cost_model.h"
#include "bench/engine_sim/generation.h"
#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/tokenizer.h"
#include "tests/engine_sim/sim_unit_support.h"

using namespace pdgate::sim;
using pdgate::sim::testing::Ids;

TEST_CASE("tokenizer: at most 4 bytes per token, new token at each word start") {
  CHECK(Tokenize("").empty());
  CHECK(Tokenize("a").size() == 1);
  CHECK(Tokenize("a b").size() == 2);       // "a", " b"
  CHECK(Tokenize(" capital").size() == 2);  // " cap", "ital"
  CHECK(Tokenize("abcdefgh").size() == 2);
  CHECK(Tokenize("The cat sat.").size() == 4);  // "The", " cat", " sat", "."
  CHECK(Tokenize("hello world") == Tokenize("hello world"));
  CHECK(Tokenize("hello world") != Tokenize("hello worle"));
  // English prose averages roughly 4 bytes per token.
  const std::string prose =
      "The quick brown fox jumps over the lazy dog while the router decides where to send it.";
  const double bytes_per_token = double(prose.size()) / double(Tokenize(prose).size());
  CHECK(bytes_per_token > 3.0);
  CHECK(bytes_per_token <= 4.0);
}

TEST_CASE("chat template wraps each turn in role markers and adds the generation prompt") {
  CHECK(ApplyChatTemplate({{"system", "Be brief."}, {"user", "Hi"}}) ==
        "<|system|>\nBe brief.\n<|user|>\nHi\n<|assistant|>\n");
}

TEST_CASE("output plan follows max_tokens, min_tokens and ignore_eos like vLLM") {
  // Find a prompt whose natural length is known.
  const auto key = MakeGenerationKey(Tokenize("Where is the capital of China?"), 0);
  const int natural = NaturalLength(key);
  REQUIRE(natural >= 1);
  auto capped = PlanOutput(key, 1, 0, false);
  if (natural > 1) {
    CHECK(capped.tokens == 1);
    CHECK(capped.finish == FinishReason::kLength);
  }
  auto free_run = PlanOutput(key, 10000, 0, false);
  CHECK(free_run.tokens == natural);
  CHECK(free_run.finish == FinishReason::kStop);
  CHECK(free_run.ends_with_eos);
  CHECK(TokenText(key, free_run, natural - 1).empty());  // EOS has no text
  auto ignore = PlanOutput(key, natural + 5, 0, true);
  CHECK(ignore.tokens == natural + 5);
  CHECK(ignore.finish == FinishReason::kLength);
  CHECK_FALSE(TokenText(key, ignore, natural - 1).empty());
  auto min = PlanOutput(key, natural + 5, natural + 2, false);  // EOS suppressed until min_tokens
  CHECK(min.tokens == natural + 5);
  CHECK(min.finish == FinishReason::kLength);
  // Deterministic in (prompt, seed); the seed changes the text.
  const auto other_seed = MakeGenerationKey(Tokenize("Where is the capital of China?"), 7);
  std::string a, b;
  for (int i = 0; i < 6; ++i) {
    a += OutputPiece(key, i);
    b += OutputPiece(other_seed, i);
  }
  CHECK(a != b);
  CHECK(OutputPiece(key, 3) ==
        OutputPiece(MakeGenerationKey(Tokenize("Where is the capital of China?"), 0), 3));
}

TEST_CASE("some prompts stop at once (EOS first), about one in 256") {
  int early = 0;
  for (int i = 0; i < 4096; ++i) {
    if (NaturalLength(MakeGenerationKey(Ids(8, static_cast<TokenId>(i * 10)), 0)) == 1) ++early;
  }
  CHECK(early > 4);
  CHECK(early < 40);
}

TEST_CASE("KV cache: chained block hashes, prefix hits, last token always recomputed") {
  const int bs = 16;
  auto prompt = Ids(100);
  auto hashes = KvCache::BlockHashes(prompt, bs);
  REQUIRE(hashes.size() == 6);  // full blocks only
  // Chained: the same block content after a different prefix hashes differently.
  auto shifted = Ids(100);
  shifted[0] = 999;
  auto shifted_hashes = KvCache::BlockHashes(shifted, bs);
  for (size_t i = 0; i < hashes.size(); ++i) CHECK(hashes[i] != shifted_hashes[i]);

  KvCache cache(64, bs);
  auto first = cache.Allocate(hashes, 100, 110);
  REQUIRE(first.has_value());
  CHECK(first->cached_tokens == 0);
  CHECK(first->blocks.size() == 7);
  CHECK(cache.used_blocks() == 7);
  cache.Commit(*first, hashes);
  CHECK(cache.CachedTokens(hashes, 100) == 96);
  // A full hit still recomputes the last token: at most (prompt-1) tokens cached.
  auto exact = Ids(96);
  CHECK(cache.CachedTokens(KvCache::BlockHashes(exact, bs), 96) == 80);
  cache.Free(first->blocks);
  CHECK(cache.used_blocks() == 0);
  auto second = cache.Allocate(hashes, 100, 110);
  REQUIRE(second.has_value());
  CHECK(second->cached_tokens == 96);
  CHECK(second->hit_blocks == 6);
  CHECK(cache.used_blocks() == 7);
  cache.Free(second->blocks);
}

TEST_CASE("KV cache: refuses what does not fit, evicts least recently freed cached blocks") {
  const int bs = 4;
  KvCache cache(8, bs);
  auto a = Ids(16, 1), b = Ids(16, 100), c = Ids(16, 200);
  auto ha = KvCache::BlockHashes(a, bs), hb = KvCache::BlockHashes(b, bs),
       hc = KvCache::BlockHashes(c, bs);
  auto alloc_a = cache.Allocate(ha, 16, 16);
  REQUIRE(alloc_a);
  cache.Commit(*alloc_a, ha);
  auto alloc_b = cache.Allocate(hb, 16, 16);
  REQUIRE(alloc_b);
  cache.Commit(*alloc_b, hb);
  CHECK_FALSE(cache.Allocate(hc, 16, 16).has_value());  // all 8 blocks in use
  cache.Free(alloc_a->blocks);
  cache.Free(alloc_b->blocks);
  CHECK(cache.cached_blocks() == 8);
  // c needs 4 blocks: the evictable ones freed first (a's) go first.
  auto alloc_c = cache.Allocate(hc, 16, 16);
  REQUIRE(alloc_c);
  CHECK(cache.CachedTokens(hb, 16) == 12);
  CHECK(cache.CachedTokens(ha, 16) == 0);
  cache.Free(alloc_c->blocks);
  CHECK(cache.used_blocks() == 0);
}

TEST_CASE("cost model: prefill overhead + per uncached token, decode base + per sequence, scaled") {
  CostModel cost;
  CHECK(cost.StepSeconds(2000, 0) == Approx(0.015 + 2000 * 60e-6));
  CHECK(cost.StepSeconds(0, 10) == Approx(0.012 + 10 * 150e-6));
  CHECK(cost.StepSeconds(100, 4) == Approx(0.015 + 100 * 60e-6 + 0.012 + 4 * 150e-6));
  CHECK(cost.StepSeconds(0, 0) == 0);
  cost.time_scale = 0.5;
  CHECK(cost.StepSeconds(2000, 0) == Approx(0.5 * (0.015 + 2000 * 60e-6)));
  cost.prefill_multiplier = 2;
  CHECK(cost.StepSeconds(2000, 0) == Approx(0.015 + 2000 * 60e-6));
  cost.time_scale = 0;
  CHECK(cost.zero_latency());
  CHECK(cost.TransferSeconds(1000) == 0);
}

TEST_CASE("KV cache: resetting the prefix cache forgets every hash, keeps blocks in use") {
  KvCache cache(16, 4);
  auto a = Ids(16, 1);
  auto hashes = KvCache::BlockHashes(a, 4);
  auto first = cache.Allocate(hashes, 16, 16);
  REQUIRE(first);
  cache.Commit(*first, hashes);
  auto held = cache.Allocate(KvCache::BlockHashes(Ids(8, 500), 4), 8, 8);
  REQUIRE(held);
  cache.Free(first->blocks);
  CHECK(cache.CachedTokens(hashes, 16) == 12);
  cache.ResetPrefixCache();
  CHECK(cache.CachedTokens(hashes, 16) == 0);
  CHECK(cache.cached_blocks() == 0);
  CHECK(cache.used_blocks() == 2);
  cache.Free(held->blocks);
  CHECK(cache.used_blocks() == 0);
  CHECK(cache.Allocate(hashes, 16, 64).has_value());  // all 16 blocks are free again
}
