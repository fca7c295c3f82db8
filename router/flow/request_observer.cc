#include "router/flow/request_observer.h"

#include <memory>
#include <vector>

#include "base/strings.h"

namespace pdgate::router {
namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Millis(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

std::string_view OutcomeText(LegOutcomeLabel outcome) {
  switch (outcome) {
    case LegOutcomeLabel::kTimeout:
      return "timeout";
    case LegOutcomeLabel::kConnectFailed:
      return "connect_failed";
    default:
      return "transport";
  }
}

// A thread keeps at most this many spare records (about the requests it has in flight at its
// busiest); the rest are freed.
constexpr size_t kSpareRecords = 256;

std::vector<std::unique_ptr<AccessRecord>>& SpareRecords() {
  thread_local std::vector<std::unique_ptr<AccessRecord>> spare;
  return spare;
}

AccessRecord* TakeRecord() {
  std::vector<std::unique_ptr<AccessRecord>>& spare = SpareRecords();
  if (spare.empty()) return new AccessRecord();
  AccessRecord* record = spare.back().release();
  spare.pop_back();
  return record;
}

}  // namespace

void RequestObserver::GiveBack::operator()(AccessRecord* record) const {
  std::vector<std::unique_ptr<AccessRecord>>& spare = SpareRecords();
  if (spare.size() >= kSpareRecords) {
    delete record;
    return;
  }
  ClearKeepingCapacity(*record);
  spare.emplace_back(record);
}

RequestObserver::RequestObserver(const MetricHandles& metrics, ApiPath path, AccessLog* log)
    : metrics_(metrics), model_(&metrics.other), path_(path), log_(log), access_(TakeRecord()) {
  Add(metrics_.active_requests, 1);
}

RequestObserver::~RequestObserver() {
  Add(metrics_.active_requests, -1);
  const Clock::duration took = Clock::now() - start_;
  if (log_ != nullptr && log_->enabled()) {
    access_->status = status_ != 0 ? status_ : 499;
    if (status_ == 0) access_->error_origin = "client";
    access_->total_ms = Millis(took);
    log_->Submit(*access_);
  }
  if (status_ == 0) return;  // the client left before any answer
  const size_t status_class = status_ < 400 ? 0 : status_ < 500 ? 1 : 2;
  Increment(model_->requests[size_t(path_)][status_class]);
  Observe(model_->duration, Seconds(took));
}

void RequestObserver::SetModel(std::string_view name) {
  model_ = &metrics_.Model(name);
  access_->model.assign(name);
}

void RequestObserver::Answered(int status, std::string_view origin) {
  status_ = status;
  if (!origin.empty()) access_->error_origin.assign(origin);
}

void RequestObserver::SetErrorOrigin(std::string_view origin) {
  access_->error_origin.assign(origin);
}

void RequestObserver::Picked(Clock::duration took, const pd_scheduler::Decision& decision) {
  Observe(metrics_.pick_duration, Seconds(took));
  Increment(DecisionCounter(*model_, decision.mode, decision.reason));
  access_->decision = pd_scheduler::ToString(decision.mode);
}

void RequestObserver::Retrying(int attempt) {
  if (attempt > 1) Increment(model_->retries);
  access_->attempts = attempt;
}

void RequestObserver::PromptTokens(PromptTokensSource source, Clock::duration took) {
  Increment(metrics_.kv_prompt_tokens[size_t(source)]);
  if (took != Clock::duration::zero()) Observe(metrics_.kv_tokenize_duration, Seconds(took));
}

void RequestObserver::Relayed(Clock::time_point now, bool event_stream) {
  if (event_stream) {
    if (last_relayed_ == Clock::time_point{}) {
      Observe(model_->ttft, Seconds(now - start_));
      access_->ttft_ms = Millis(now - start_);
    } else {
      Observe(model_->itl, Seconds(now - last_relayed_));
    }
  }
  last_relayed_ = now;
}

void RequestObserver::CountUsage(const Usage& usage) {
  Increment(model_->prompt_tokens, double(usage.prompt_tokens));
  Increment(model_->completion_tokens, double(usage.completion_tokens));
  access_->input_tokens = usage.prompt_tokens;
  access_->output_tokens = usage.completion_tokens;
}

void RequestObserver::LegEnded(std::string_view leg, const discovery::Endpoint& endpoint,
                               Clock::duration took, LegOutcomeLabel outcome, int status,
                               bool count) {
  const double ms = Millis(took);
  if (leg == "prefill") {
    access_->prefill = endpoint.pod;
    access_->prefill_ms = ms;
    Observe(model_->prefill_leg, ms / 1000);
  } else {
    access_->decode = endpoint.pod;
    access_->decode_ms = ms;
    Observe(model_->decode_leg, ms / 1000);
  }
  if (!access_->upstream_statuses.empty()) access_->upstream_statuses += ',';
  if (outcome == LegOutcomeLabel::kOk) {
    StrAppend(access_->upstream_statuses, leg, ":200");
  } else if (status != 0) {
    StrAppend(access_->upstream_statuses, leg, ":", status);
  } else {
    StrAppend(access_->upstream_statuses, leg, ":", OutcomeText(outcome));
  }
  if (!count) return;
  if (const EndpointMetrics* e = metrics_.Endpoint(&endpoint)) Increment(e->legs[size_t(outcome)]);
}

}  // namespace pdgate::router
