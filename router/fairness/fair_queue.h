#pragma once
// One model's fairness queue (Kthena's fairness scheduling, with priority classes): requests run
// while fewer than `limit` of them do; the others wait. When a slot frees, the next to run is
// taken from the highest priority class that has a waiter, then from the principal with the
// least recent usage (weighted tokens and requests over a sliding window, as Kthena scores
// users), then first come first served within that principal. A principal may hold at most
// `max_share` of the slots. A running request is never preempted.
//
// Shared by every io thread: one mutex per model, held for a few map operations. A waiter is
// told it may run by its `wake` callback, called without the lock held, from whichever thread
// freed the slot; the callback must hand over to the waiter's own thread. Deciding and waking
// are separate, so a waiter that gives up (timeout, client gone) at the same moment learns from
// Abandon() whether the slot was already its own.
#include <absl/container/flat_hash_set.h>
#include <absl/container/node_hash_map.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "router/fairness/usage_window.h"

namespace pdgate::fairness {

struct FairQueueOptions {
  size_t max_queued = 10000;        // waiters per model; beyond: refused at once
  size_t max_principals = 100000;   // principals tracked per model; beyond: one shared entry
  Clock::duration window = std::chrono::minutes(5);
  double input_token_weight = 1.0;  // weighted tokens = input × this + output × the next
  double output_token_weight = 2.0;
  double token_weight = 1.0;        // score = weighted tokens × this + requests × the next
  double request_weight = 0.0;
  size_t priority_levels = 4;       // level 0 is served first
  // The largest part of the limit one principal may hold (at least one slot): below 1, some
  // slots stay for others, so a newcomer need not wait for a running request to end. 1 is
  // Kthena's behaviour (work-conserving: one principal may take every slot).
  double max_share = 1.0;
};

struct PrincipalState;

// A request waiting in a queue; shared by the queue and the waiting request.
class Waiter {
 public:
  enum class State { kWaiting, kGranted, kAbandoned };

 private:
  friend class FairQueue;
  State state = State::kWaiting;
  uint64_t seq = 0;
  size_t level = 0;
  double input_tokens = 0;
  PrincipalState* principal = nullptr;
  std::function<void()> wake;
};

struct PrincipalState {
  std::string name;
  UsageWindow usage;
  size_t running = 0;
  size_t waiting = 0;
  std::vector<std::deque<std::shared_ptr<Waiter>>> queues;  // by priority level
};

class FairQueue {
 public:
  explicit FairQueue(FairQueueOptions options);
  FairQueue(const FairQueue&) = delete;
  FairQueue& operator=(const FairQueue&) = delete;

  // Applies to new waiters; the levels of queued ones are clamped to the new count.
  void Configure(const FairQueueOptions& options);

  struct Request {
    std::string_view principal;
    size_t level = 0;          // priority level, 0 first
    int64_t input_tokens = 0;  // the prompt's estimate
  };
  enum class Outcome { kRun, kQueued, kFull };
  struct Entry {
    Outcome outcome = Outcome::kFull;
    std::shared_ptr<Waiter> waiter;  // kQueued only
    PrincipalState* principal = nullptr;  // for Leave(); stays valid while a slot is held
  };
  // `limit`: how many requests of this model may run at once now (at least 1). kRun holds a
  // slot at once; kQueued holds one once `wake` has been called.
  Entry Enter(const Request& request, size_t limit, std::function<void()> wake,
              Clock::time_point now);
  // The waiter gives up. True when it had been granted meanwhile: it holds a slot after all
  // (and must Leave()).
  bool Abandon(Waiter& waiter);
  // A request that held a slot is done; its output tokens (≥ 0) count against its principal.
  void Leave(PrincipalState& principal, int64_t output_tokens, Clock::time_point now);
  // Fairness turned off: every waiter runs now.
  void ReleaseAll();
  // Forgets principals with nothing queued, nothing running and no usage in the window.
  void EvictIdle(Clock::time_point now);

  struct Stats {
    size_t queued = 0;
    size_t running = 0;
    size_t principals = 0;
  };
  Stats stats() const;

 private:
  using Wakes = std::vector<std::function<void()>>;
  PrincipalState& PrincipalFor(std::string_view name, Clock::time_point now);
  double Score(const PrincipalState& principal, Clock::time_point now) const;
  void Charge(PrincipalState& principal, double input_tokens, int64_t output_tokens,
              int64_t requests, Clock::time_point now);
  // Grants slots to the best waiters while there are free ones; their wakes are appended.
  void Dispatch(Clock::time_point now, Wakes& wakes);
  size_t Share() const;  // slots one principal may hold
  void Grant(const std::shared_ptr<Waiter>& waiter, Clock::time_point now, Wakes& wakes);
  void EvictIdleLocked(Clock::time_point now);

  mutable std::mutex mutex_;
  FairQueueOptions options_;
  size_t limit_ = 1;
  size_t running_ = 0;
  size_t queued_ = 0;
  uint64_t next_seq_ = 0;
  absl::node_hash_map<std::string, PrincipalState, StringViewHash, std::equal_to<>>
      principals_;
  // Principals with a waiter at each level.
  std::vector<absl::flat_hash_set<PrincipalState*>> waiting_;
};

}  // namespace pdgate::fairness
