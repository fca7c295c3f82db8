#include "router/fairness/fair_queue.h"

#include <algorithm>
#include <limits>

namespace pdgate::fairness {
namespace {

// Where principals beyond max_principals are counted together: bounded memory under a flood of
// identities, at the price of fairness among those.
constexpr std::string_view kOverflowPrincipal = "\x01overflow";

}  // namespace

FairQueue::FairQueue(FairQueueOptions options) { Configure(options); }

void FairQueue::Configure(const FairQueueOptions& options) {
  std::lock_guard lock(mutex_);
  options_ = options;
  options_.priority_levels = std::max<size_t>(1, options_.priority_levels);
  if (waiting_.size() == options_.priority_levels) return;
  // Re-file every waiter under the new levels, in arrival order within each principal.
  std::vector<std::shared_ptr<Waiter>> all;
  for (auto& [name, principal] : principals_) {
    for (auto& queue : principal.queues) {
      for (auto& waiter : queue) all.push_back(std::move(waiter));
    }
    principal.queues.assign(options_.priority_levels, {});
  }
  waiting_.assign(options_.priority_levels, {});
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a->seq < b->seq; });
  for (auto& waiter : all) {
    waiter->level = std::min(waiter->level, options_.priority_levels - 1);
    waiting_[waiter->level].insert(waiter->principal);
    waiter->principal->queues[waiter->level].push_back(std::move(waiter));
  }
}

PrincipalState& FairQueue::PrincipalFor(std::string_view name, Clock::time_point now) {
  auto it = principals_.find(name);
  if (it != principals_.end()) return it->second;
  if (principals_.size() >= options_.max_principals) {
    EvictIdleLocked(now);
    if (principals_.size() >= options_.max_principals) name = kOverflowPrincipal;
  }
  auto [inserted, fresh] = principals_.try_emplace(std::string(name));
  if (fresh) {
    inserted->second.name = inserted->first;
    inserted->second.queues.resize(options_.priority_levels);
  }
  return inserted->second;
}

double FairQueue::Score(const PrincipalState& principal, Clock::time_point now) const {
  const UsageWindow::Sum recent = principal.usage.Recent(options_.window, now);
  return options_.token_weight * recent.tokens + options_.request_weight * double(recent.requests);
}

void FairQueue::Charge(PrincipalState& principal, double input_tokens, int64_t output_tokens,
                       int64_t requests, Clock::time_point now) {
  const double weighted = input_tokens * options_.input_token_weight +
                          double(output_tokens) * options_.output_token_weight;
  principal.usage.Add(weighted, requests, options_.window, now);
}

FairQueue::Entry FairQueue::Enter(const Request& request, size_t limit,
                                  std::function<void()> wake, Clock::time_point now) {
  Wakes wakes;
  Entry entry;
  {
    std::lock_guard lock(mutex_);
    limit_ = std::max<size_t>(1, limit);
    PrincipalState& principal = PrincipalFor(request.principal, now);
    entry.principal = &principal;
    Dispatch(now, wakes);  // a larger limit may let waiters in first
    if (queued_ == 0 && running_ < limit_ && principal.running < Share()) {
      ++running_;
      ++principal.running;
      Charge(principal, double(request.input_tokens), 0, 1, now);
      entry.outcome = Outcome::kRun;
    } else if (queued_ >= options_.max_queued) {
      entry.outcome = Outcome::kFull;
      entry.principal = nullptr;
    } else {
      auto waiter = std::make_shared<Waiter>();
      waiter->seq = next_seq_++;
      waiter->level = std::min(request.level, options_.priority_levels - 1);
      waiter->input_tokens = double(request.input_tokens);
      waiter->principal = &principal;
      principal.queues[waiter->level].push_back(waiter);
      ++principal.waiting;
      ++queued_;
      waiting_[waiter->level].insert(&principal);
      // Waiters that cannot run (beyond their share) must not hold back one that can.
      Dispatch(now, wakes);
      if (waiter->state == Waiter::State::kGranted) {
        entry.outcome = Outcome::kRun;
      } else {
        waiter->wake = std::move(wake);
        entry.outcome = Outcome::kQueued;
        entry.waiter = std::move(waiter);
      }
    }
  }
  for (auto& w : wakes) w();
  return entry;
}

void FairQueue::Grant(const std::shared_ptr<Waiter>& waiter, Clock::time_point now,
                      Wakes& wakes) {
  PrincipalState& principal = *waiter->principal;
  waiter->state = Waiter::State::kGranted;
  --principal.waiting;
  --queued_;
  ++principal.running;
  ++running_;
  Charge(principal, waiter->input_tokens, 0, 1, now);
  if (waiter->wake) wakes.push_back(std::move(waiter->wake));
}

size_t FairQueue::Share() const {
  return std::max<size_t>(1, size_t(double(limit_) * options_.max_share));
}

void FairQueue::Dispatch(Clock::time_point now, Wakes& wakes) {
  const size_t share = Share();
  while (running_ < limit_ && queued_ > 0) {
    PrincipalState* best = nullptr;
    size_t level = 0;
    for (; level < waiting_.size() && best == nullptr; ++level) {
      double best_score = std::numeric_limits<double>::infinity();
      uint64_t best_seq = std::numeric_limits<uint64_t>::max();
      for (PrincipalState* principal : waiting_[level]) {
        if (principal->running >= share) continue;  // its share is taken: others first
        const double score = Score(*principal, now);
        const uint64_t seq = principal->queues[level].front()->seq;
        if (best == nullptr || score < best_score || (score == best_score && seq < best_seq)) {
          best = principal;
          best_score = score;
          best_seq = seq;
        }
      }
    }
    if (best == nullptr) return;  // every waiter's principal holds its share
    --level;
    auto& queue = best->queues[level];
    std::shared_ptr<Waiter> waiter = std::move(queue.front());
    queue.pop_front();
    if (queue.empty()) waiting_[level].erase(best);
    Grant(waiter, now, wakes);
  }
}

bool FairQueue::Abandon(Waiter& waiter) {
  std::lock_guard lock(mutex_);
  if (waiter.state == Waiter::State::kGranted) return true;
  if (waiter.state == Waiter::State::kAbandoned) return false;
  waiter.state = Waiter::State::kAbandoned;
  waiter.wake = nullptr;
  PrincipalState& principal = *waiter.principal;
  auto& queue = principal.queues[waiter.level];
  auto it = std::find_if(queue.begin(), queue.end(),
                         [&](const std::shared_ptr<Waiter>& w) { return w.get() == &waiter; });
  if (it != queue.end()) queue.erase(it);
  if (queue.empty()) waiting_[waiter.level].erase(&principal);
  --principal.waiting;
  --queued_;
  return false;
}

void FairQueue::Leave(PrincipalState& principal, int64_t output_tokens, Clock::time_point now) {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    if (principal.running > 0) --principal.running;
    if (running_ > 0) --running_;
    if (output_tokens > 0) Charge(principal, 0, output_tokens, 0, now);
    Dispatch(now, wakes);
  }
  for (auto& w : wakes) w();
}

void FairQueue::ReleaseAll() {
  Wakes wakes;
  {
    std::lock_guard lock(mutex_);
    const Clock::time_point now = Clock::now();
    for (auto& level : waiting_) {
      for (PrincipalState* principal : level) {
        for (auto& queue : principal->queues) {
          for (auto& waiter : queue) Grant(waiter, now, wakes);
          queue.clear();
        }
      }
      level.clear();
    }
  }
  for (auto& w : wakes) w();
}

void FairQueue::EvictIdle(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  EvictIdleLocked(now);
}

void FairQueue::EvictIdleLocked(Clock::time_point now) {
  absl::erase_if(principals_, [&](const auto& entry) {
    const PrincipalState& principal = entry.second;
    return principal.running == 0 && principal.waiting == 0 &&
           principal.usage.Empty(options_.window, now);
  });
}

FairQueue::Stats FairQueue::stats() const {
  std::lock_guard lock(mutex_);
  return {queued_, running_, principals_.size()};
}

}  // namespace pdgate::fairness
