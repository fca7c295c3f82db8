// The queue under several threads at once, as the io threads use it (run under ASan by
// ./dev.sh test-asan; a TSan build of this test is clean too). Every request either runs or
// gives up, and the limit holds.
#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "router/fairness/fair_queue.h"

namespace pdgate::fairness {
namespace {

TEST_CASE("threads entering, leaving and giving up keep the limit and lose nobody",
          "[fairness]") {
  FairQueueOptions options;
  options.max_share = 0.5;
  FairQueue queue(options);
  constexpr size_t kLimit = 4;
  constexpr int kThreads = 4;
  constexpr int kRequests = 2000;
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::atomic<int> ran{0};
  std::atomic<int> gave_up{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kRequests; ++i) {
        auto woken = std::make_shared<std::atomic<bool>>(false);
        const std::string principal = "p" + std::to_string(rng() % 6);
        FairQueue::Entry entry = queue.Enter({principal, rng() % 4, int64_t(rng() % 100)}, kLimit,
                                             [woken] { woken->store(true); }, Clock::now());
        bool holds = entry.outcome == FairQueue::Outcome::kRun;
        if (entry.outcome == FairQueue::Outcome::kQueued) {
          // Wait a little for the grant, else give up (a timeout or a client leaving).
          for (int spin = 0; spin < 200 && !woken->load(); ++spin) std::this_thread::yield();
          holds = woken->load() || queue.Abandon(*entry.waiter);
          if (!holds) ++gave_up;
        }
        if (!holds) continue;
        const int now = ++running;
        int seen = max_running.load();
        while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
        }
        ++ran;
        --running;
        queue.Leave(*entry.principal, int64_t(rng() % 50), Clock::now());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(ran + gave_up == kThreads * kRequests);
  CHECK(max_running <= int(kLimit));
  CHECK(queue.stats().running == 0);
  CHECK(queue.stats().queued == 0);
}

}  // namespace
}  // namespace pdgate::fairness
