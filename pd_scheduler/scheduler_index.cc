// The scheduler's side of the approximate prefix index: what a served leg records, and how much
// of an endpoint's engine the index may believe it holds.
#include <algorithm>

#include "pd_scheduler/scheduler.h"
#include "pd_scheduler/scheduler_impl.h"

namespace pdgate::pd_scheduler {

using discovery::Endpoint;

void Scheduler::RecordServed(const Decision& decision, const Endpoint& endpoint) const {
  // (Every leg, hashed or not, so bytes per token compare with the engine's token counter.)
  endpoint.live->prompt_bytes_sent.fetch_add(decision.prompt_bytes, std::memory_order_relaxed);
  if (index_ == nullptr || decision.prompt_hashes.empty()) return;
  index_->Record(decision.prompt_hashes, endpoint.live->slot());
}

void Scheduler::SizeIndexFor(const discovery::LiveEndpoint& live,
                             const discovery::EngineCache& cache) const {
  if (index_ == nullptr || !impl_->hash_prompts) return;
  const config::SchedulerSettings& settings = impl_->settings;
  const double tokens = cache.capacity_tokens > 0
                            ? cache.capacity_tokens
                            : double(settings.prefix_cache.engine_cache_tokens);
  if (tokens <= 0) {
    index_->SetCapacity(live.slot(), 0);
    return;
  }
  // A ratio outside what any tokenizer gives (a mis-count, another client's traffic) is ignored.
  const double measured = cache.prompt_bytes_per_token;
  const double bytes_per_token = measured >= 1 && measured <= 64
                                     ? measured
                                     : double(std::max(1, settings.decider.bytes_per_token));
  const double entries =
      tokens * bytes_per_token / double(std::max(1, settings.prefix_cache.block_size_to_hash));
  // (Bounded: a gauge from the network may say anything.)
  index_->SetCapacity(live.slot(), size_t(std::clamp(entries, 1.0, 0x1p40)));
}

}  // namespace pdgate::pd_scheduler
