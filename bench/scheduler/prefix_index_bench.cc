// Micro-benchmark of the prefix index under threads: each thread does what a pick and a served
// request do (hash a 1 KiB prompt, look up the room of 8 endpoints and the prompt's matches,
// record the prompt on an endpoint) in a loop. Two workloads:
//   shared  every request has the same prompt (a shared system prompt and a short question):
//           after the first request, every record is of blocks the endpoint holds
//   tails   a shared 768-byte head and a 256-byte tail of its own per request (a conversation's
//           new turn): every record writes 4 new blocks
// Prints a markdown table: threads, workload, requests/s over all threads, ns per request per
// thread. Built from the index's public API only, so the same file measures an older index.
//
// Each row is the median of `repeats` runs (a shared machine's other tenants move single runs).
//
//   build/bin/pdgate-prefix-index-bench [requests per thread, default 200000] [repeats, default 5]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "pd_scheduler/prefix_index.h"

namespace {

using pdgate::pd_scheduler::HashPromptBlocks;
using pdgate::pd_scheduler::PrefixIndex;
using pdgate::pd_scheduler::PrefixMatch;
using Clock = std::chrono::steady_clock;

double Run(int threads, bool tails, size_t requests) {
  PrefixIndex index(4096);
  for (uint32_t slot = 0; slot < 8; ++slot) index.SetCapacity(slot, 3000);
  const std::string head(768, 'h');
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      const uint32_t slots[] = {0, 1, 2, 3, 4, 5, 6, 7};
      std::vector<int64_t> room;
      std::vector<PrefixMatch> matches;
      std::string prompt = head + std::string(256, 't');
      ready.fetch_add(1);
      while (!go.load()) {
      }
      for (size_t i = 0; i < requests; ++i) {
        if (tails) {
          const std::string tail = std::to_string(t) + ":" + std::to_string(i);
          prompt.replace(head.size(), tail.size(), tail);
        }
        const std::vector<uint64_t> hashes = HashPromptBlocks("m", prompt, 64, 128);
        index.Room(slots, room);
        index.Match(hashes, 8, matches);
        index.Record(hashes, uint32_t((size_t(t) + i) % 8));
      }
    });
  }
  while (ready.load() < threads) {
  }
  const auto start = Clock::now();
  go.store(true);
  for (std::thread& worker : workers) worker.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return double(requests) * threads / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t requests = argc > 1 ? size_t(std::atoll(argv[1])) : 200000;
  const int repeats = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::printf("| threads | workload | requests/s (all threads) | ns per request per thread |\n");
  std::printf("|---|---|---|---|\n");
  for (int threads : {1, 2, 4}) {
    for (bool tails : {false, true}) {
      std::vector<double> rates;
      for (int r = 0; r < repeats; ++r) rates.push_back(Run(threads, tails, requests));
      std::sort(rates.begin(), rates.end());
      const double rate = rates[rates.size() / 2];
      std::printf("| %d | %s | %.0f | %.0f |\n", threads, tails ? "tails" : "shared", rate,
                  1e9 * threads / rate);
    }
  }
  return 0;
}
