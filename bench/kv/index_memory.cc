// Case `memory`: the resident memory of a KvBlockIndex holding 1 million blocks (pdgate's default
// maxIndexedBlocks), and the time to apply them. 5,000 chains of 200 blocks (3,200 tokens, one
// BlockStored each, as an engine reports a long prefill) spread round-robin over 64 endpoints:
//   - distinct: every chain's tokens are its own (1M distinct block keys, the worst case);
//   - shared-4: each chain's tokens are held by 4 endpoints (250k distinct keys, 1M entries).
// Each variant runs in a fresh process (this executable again, --memory-child=...), so memory an
// earlier case freed to the allocator cannot hide the growth. RSS is /proc/self/statm's; with
// tcmalloc linked (as pdgate is) its count of live allocated bytes is shown too.
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/kv/kv_bench.h"

#ifdef PDGATE_KV_BENCH_TCMALLOC
#include <gperftools/malloc_extension_c.h>
#endif

extern char** environ;

namespace pdgate::kvbench {
namespace {

constexpr size_t kBlocks = 1'000'000;
constexpr size_t kChainBlocks = 200;

double AllocatedBytes() {
#ifdef PDGATE_KV_BENCH_TCMALLOC
  size_t bytes = 0;
  if (MallocExtension_GetNumericProperty("generic.current_allocated_bytes", &bytes) != 0) {
    return double(bytes);
  }
#endif
  return -1;
}

}  // namespace

void RunMemory(const Options& /*options*/) {
  std::printf(
      "\n#### memory: a KvBlockIndex with 1M blocks (64 endpoints, chains of 200 "
      "blocks)\n\n");
  std::printf(
      "| tokens | distinct keys | entries | RSS before (MiB) | RSS after (MiB) | RSS "
      "bytes per block | allocated bytes per block | apply total (ms) | apply ns per "
      "block |\n|---|---|---|---|---|---|---|---|---|\n");
  std::fflush(stdout);
  for (const char* variant : {"distinct", "shared-4"}) {
    const std::string arg = std::string("--memory-child=") + variant;
    char exe[] = "/proc/self/exe";
    std::vector<char*> argv = {exe, const_cast<char*>(arg.c_str()), nullptr};
    pid_t pid = 0;
    if (posix_spawn(&pid, exe, nullptr, nullptr, argv.data(), environ) != 0) {
      std::printf("| %s | (could not start a child process) |\n", variant);
      continue;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::printf("| %s | (the child process failed) |\n", variant);
    }
  }
  std::printf(
      "\nIndex constructed with max_blocks %zu and %zu reader slots; RSS before is "
      "after the empty index was built.\n",
      kBlocks, kReaderSlots);
}

int RunMemoryChild(const std::string& variant) {
  const bool shared = variant == "shared-4";
  if (!shared && variant != "distinct") return 2;
  auto cluster = MakeCluster();
  std::vector<uint32_t> slots;
  for (size_t e = 0; e < size_t(kEndpoints); ++e) slots.push_back(cluster->slot(e));
  discovery::KvEventBatch batch;
  std::vector<uint64_t> next_hash(slots.size());
  for (size_t e = 0; e < slots.size(); ++e) next_hash[e] = uint64_t{e + 1} << 40;

  auto index = std::make_unique<discovery::KvBlockIndex>(kBlocks, kReaderSlots);
  const size_t rss_empty = RssBytes();
  const double allocated_empty = AllocatedBytes();
  std::chrono::nanoseconds applying{0};
  const size_t chains = kBlocks / kChainBlocks;
  std::vector<uint32_t> tokens;
  for (size_t c = 0; c < chains; ++c) {
    const size_t e = c % slots.size();
    // shared-4: chains c..c+3 carry the same tokens, on 4 consecutive endpoints.
    tokens = Tokens(1'000'000 + (shared ? c / 4 : c), kChainBlocks * kBlockSize);
    FillStored(tokens, next_hash[e], 0, batch);
    next_hash[e] += kChainBlocks;
    const auto start = std::chrono::steady_clock::now();
    index->Apply(slots[e], "", batch);
    applying += std::chrono::steady_clock::now() - start;
  }
  const size_t rss_after = RssBytes();
  const double allocated_after = AllocatedBytes();
  const discovery::KvIndexStats stats = index->stats();
  const double blocks = double(stats.stored);
  char allocated[32] = "n/a";
  if (allocated_after >= 0) {
    std::snprintf(allocated, sizeof allocated, "%.1f",
                  (allocated_after - allocated_empty) / blocks);
  }
  const double mib = 1024.0 * 1024.0;
  std::printf("| %s | %zu | %zu | %.1f | %.1f | %.1f | %s | %.0f | %.0f |\n", variant.c_str(),
              shared ? chains / 4 * kChainBlocks : chains * kChainBlocks, stats.entries,
              double(rss_empty) / mib, double(rss_after) / mib,
              double(rss_after - rss_empty) / blocks, allocated, double(applying.count()) / 1e6,
              double(applying.count()) / blocks);
  std::fflush(stdout);
  return stats.entries == kBlocks && stats.evicted == 0 ? 0 : 1;
}

}  // namespace pdgate::kvbench
