// The KV-cache events of Engine::Impl (engine_impl.h): what the cache recorded since the last
// batch goes to the sink as one batch.
#include <chrono>

#include "bench/engine_sim/engine_impl.h"

namespace pdgate::sim {

void Engine::Impl::Schedule() {
  ScheduleStep();
  PublishKvEvents();
}

void Engine::Impl::PublishKvEvents() {
  if (config_.kv_events == nullptr) return;
  std::vector<KvCacheEvent> events = kv_.TakeEvents();
  if (events.empty()) return;
  const double ts =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  config_.kv_events->Publish(ts, std::move(events));
}

}  // namespace pdgate::sim
