#include "router/flow/fairness_gate.h"

#include "base/strings.h"

namespace pdgate::router {

FairnessSlot& FairnessSlot::operator=(FairnessSlot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::move(other.owner_);
    queue_ = std::exchange(other.queue_, nullptr);
    principal_ = std::exchange(other.principal_, nullptr);
    output_tokens_ = other.output_tokens_;
  }
  return *this;
}

void FairnessSlot::Release() {
  if (queue_ == nullptr) return;
  queue_->Leave(*principal_, std::max<int64_t>(output_tokens_, 0), fairness::Clock::now());
  queue_ = nullptr;
  owner_.reset();
}

std::vector<FairnessGauges> FairnessGaugesOf(const RouterState& state) {
  std::vector<FairnessGauges> gauges;
  if (!state.config->settings.fairness.enabled) return gauges;
  for (const auto& [model, stats] : state.fairness->Stats()) {
    gauges.push_back({model, stats.queued, stats.running, stats.principals});
  }
  return gauges;
}

void CountFairness(const ModelMetrics& metrics, const FairnessVerdict& verdict) {
  FairnessResult result = FairnessResult::kRanAtOnce;
  if (verdict.client_gone) {
    result = FairnessResult::kClientGone;
  } else if (verdict.refusal) {
    result = verdict.refusal->status == 429 ? FairnessResult::kQueueFull
                                            : FairnessResult::kQueueTimeout;
  } else if (verdict.queued) {
    result = FairnessResult::kRanAfterWait;
  }
  Increment(metrics.fairness[size_t(result)]);
  if (verdict.queued) {
    Observe(metrics.fairness_wait, std::chrono::duration<double>(verdict.waited).count());
  }
}

Task<FairnessVerdict> AwaitFairnessTurn(Worker& worker, const RouterState& state,
                                                  const FairnessTurn& turn,
                                                  std::shared_ptr<DisconnectWatch> watch,
                                                  FairnessSlot& slot) {
  const config::FairnessSettings& settings = state.config->settings.fairness;
  FairnessVerdict verdict;
  const size_t limit =
      settings.max_concurrent > 0
          ? size_t(settings.max_concurrent)
          : size_t(settings.max_concurrent_per_endpoint) * std::max<size_t>(1, turn.serving_endpoints);
  fairness::FairQueue& queue = state.fairness->For(turn.model);
  const fairness::FairQueue::Request request{
      turn.principal, fairness::PriorityLevel(settings, turn.priority_class), turn.input_tokens};
  // The grant may come from any io thread: it cancels the wait on this one.
  auto timer = std::make_shared<SteadyTimer>(worker.ioc, settings.queue_timeout);
  net::io_context& ioc = worker.ioc;
  auto wake = [timer, &ioc] { net::post(ioc, [timer] { timer->cancel(); }); };
  const auto start = std::chrono::steady_clock::now();
  fairness::FairQueue::Entry entry = queue.Enter(request, limit, wake, fairness::Clock::now());
  if (entry.outcome == fairness::FairQueue::Outcome::kRun) {
    slot = FairnessSlot(state.fairness, &queue, entry.principal);
    co_return verdict;
  }
  if (entry.outcome == fairness::FairQueue::Outcome::kFull) {
    verdict.refusal = ErrorInfo{
        429,
        StrCat("Too many requests are waiting for the model '", turn.model, "' (",
               settings.max_queued, " queued). Retry later."),
        "", "", "queue_full"};
    co_return verdict;
  }
  // Nothing runs on this thread between Enter() and the wait, so a grant's posted cancel
  // finds the wait pending.
  verdict.queued = true;
  watch->on_gone.push_back([timer] { timer->cancel(); });
  co_await timer->async_wait(kTuple);
  verdict.waited = std::chrono::steady_clock::now() - start;
  if (queue.Abandon(*entry.waiter)) {  // granted (possibly just as the timeout fired)
    slot = FairnessSlot(state.fairness, &queue, entry.principal);
    co_return verdict;
  }
  if (watch->client_gone) {
    verdict.client_gone = true;
    co_return verdict;
  }
  verdict.refusal = ErrorInfo{
      503,
      StrCat("The request waited ", settings.queue_timeout.count() / 1000.0,
             " s in the fairness queue of the model '", turn.model,
             "' without a free slot. Retry later."),
      "", "", "queue_timeout"};
  co_return verdict;
}

}  // namespace pdgate::router
