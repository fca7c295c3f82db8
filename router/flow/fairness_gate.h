#pragma once
// A request's turn in its model's fairness queue (when fairness is on): it runs at once while
// the model has a free slot, else waits on its own thread's timer until a slot is granted to
// it, the queue timeout passes (503), or its client leaves (dropped from the queue at once).
// A full queue refuses at once (429). The slot is held until the answer ends, and given back
// with the answer's output tokens, which count against the principal's recent usage.
#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

#include "router/fairness/fairness_queues.h"
#include "router/http/client_io.h"
#include "router/http/disconnect_watch.h"
#include "router/openai/openai_error.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

class FairnessSlot {
 public:
  FairnessSlot() = default;
  FairnessSlot(std::shared_ptr<fairness::FairnessQueues> owner, fairness::FairQueue* queue,
               fairness::PrincipalState* principal)
      : owner_(std::move(owner)), queue_(queue), principal_(principal) {}
  FairnessSlot(const FairnessSlot&) = delete;
  FairnessSlot& operator=(const FairnessSlot&) = delete;
  FairnessSlot& operator=(FairnessSlot&& other) noexcept;
  ~FairnessSlot() { Release(); }

  bool held() const { return queue_ != nullptr; }
  // The answer's completion tokens (unknown: -1), charged when the slot is given back.
  void set_output_tokens(int64_t tokens) { output_tokens_ = tokens; }
  void Release();

 private:
  std::shared_ptr<fairness::FairnessQueues> owner_;  // keeps the queue alive
  fairness::FairQueue* queue_ = nullptr;
  fairness::PrincipalState* principal_ = nullptr;
  int64_t output_tokens_ = -1;
};

struct FairnessTurn {
  std::string_view model;
  std::string_view principal;       // whose usage orders the queue
  std::string_view priority_class;  // empty: the default class
  int64_t input_tokens = 0;
  size_t serving_endpoints = 1;  // for maxConcurrentPerEndpoint
};

// What the wait ended with: nothing (the slot is held), a refusal to send, or a client that left
// (nothing to send).
struct FairnessVerdict {
  std::optional<ErrorInfo> refusal;
  bool client_gone = false;
  bool queued = false;  // it had to wait (for `waited`)
  std::chrono::nanoseconds waited{0};
};

// The fairness queues' gauges for /metrics; empty while fairness is off.
std::vector<FairnessGauges> FairnessGaugesOf(const RouterState& state);

// Counts how the request went through the queue (pdgate_fairness_*).
void CountFairness(const ModelMetrics& metrics, const FairnessVerdict& verdict);

// GCC 12: call with named locals only (see client_io.h).
Task<FairnessVerdict> AwaitFairnessTurn(Worker& worker, const RouterState& state,
                                                  const FairnessTurn& turn,
                                                  std::shared_ptr<DisconnectWatch> watch,
                                                  FairnessSlot& slot);

}  // namespace pdgate::router
