#pragma once
// Everything recorded of one completion request, in one place: the request's metrics when it
// ends (however it ends), its access-log line, and what each leg adds to both. The flow reports
// events; only this class knows which counter, histogram or log field they land in.
#include <chrono>
#include <memory>
#include <string_view>

#include "discovery/endpoint_snapshot.h"
#include "pd_scheduler/scheduler.h"
#include "router/observe/access_log.h"
#include "router/observe/router_metrics.h"
#include "router/openai/usage_scanner.h"

namespace pdgate::router {

using Clock = std::chrono::steady_clock;

class RequestObserver {
 public:
  // Counts the request as active until destroyed. `log`: null or disabled, no line.
  RequestObserver(const MetricHandles& metrics, ApiPath path, AccessLog* log);
  // Counts the request by status class and duration (not when the client left before any
  // answer) and writes its access-log line (status 499 then, nginx's convention).
  ~RequestObserver();
  RequestObserver(const RequestObserver&) = delete;
  RequestObserver& operator=(const RequestObserver&) = delete;

  Clock::time_point start() const { return start_; }
  // The fields the handler fills directly (ids, route, authentication, queue time).
  AccessRecord& access() { return *access_; }
  const AccessRecord& access() const { return *access_; }
  const ModelMetrics& model() const { return *model_; }
  const MetricHandles& metrics() const { return metrics_; }

  // The requested model: its series from here on (names no route knows count as "other").
  void SetModel(std::string_view name);
  // The status the client was sent; `origin` says who caused an error answer ("client",
  // "router", "prefill", ...), empty to keep what was said.
  void Answered(int status, std::string_view origin = {});
  int status() const { return status_; }
  void SetErrorOrigin(std::string_view origin);

  // The scheduler's pick: its duration and decision.
  void Picked(Clock::duration took, const pd_scheduler::Decision& decision);
  void Retrying(int attempt);
  // kvcache-aware: where the prompt's token ids came from; `took` of a /tokenize asked (zero
  // otherwise).
  void PromptTokens(PromptTokensSource source, Clock::duration took);
  // Body bytes of an answer went to the client: TTFT on the first of an event stream, the
  // inter-token gap on the others.
  void Relayed(Clock::time_point now, bool event_stream);
  void CountUsage(const Usage& usage);
  // A leg ended after `took`. `outcome` is its label for pdgate_upstream_requests_total;
  // `status` the engine's answer (0: none, `outcome` says why). `count`: false once the client
  // left, when the leg's end says nothing about the endpoint.
  void LegEnded(std::string_view leg, const discovery::Endpoint& endpoint, Clock::duration took,
                LegOutcomeLabel outcome, int status, bool count);

 private:
  const MetricHandles& metrics_;
  const ModelMetrics* model_;
  ApiPath path_;
  AccessLog* log_;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_relayed_{};  // epoch: nothing relayed yet
  int status_ = 0;                    // 0: no answer went out
  // From the thread's spare records, and back to them when the request ends: a request's
  // strings (its id, path, pods...) reuse an earlier request's buffers.
  struct GiveBack {
    void operator()(AccessRecord* record) const;
  };
  std::unique_ptr<AccessRecord, GiveBack> access_;
};

}  // namespace pdgate::router
