#include "pd_scheduler/decision_kind.h"

namespace pdgate::pd_scheduler {

std::string_view ToString(DecisionMode mode) {
  switch (mode) {
    case DecisionMode::kNone:
      return "none";
    case DecisionMode::kDisaggregated:
      return "disaggregated";
    case DecisionMode::kDecodeOnly:
      return "decode_only";
    case DecisionMode::kAggregated:
      return "aggregated";
  }
  return "?";
}

std::string_view ToString(DecisionReason reason) {
  switch (reason) {
    case DecisionReason::kNoEndpoints:
      return "no_endpoints";
    case DecisionReason::kAggregated:
      return "aggregated";
    case DecisionReason::kDeciderOff:
      return "decider_off";
    case DecisionReason::kLongPrompt:
      return "long_prompt";
    case DecisionReason::kShortPrompt:
      return "short_prompt";
    case DecisionReason::kNoPrefill:
      return "no_prefill";
    case DecisionReason::kNoDecode:
      return "no_decode";
  }
  return "?";
}

}  // namespace pdgate::pd_scheduler
