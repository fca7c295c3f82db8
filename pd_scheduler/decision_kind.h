#pragma once
// What a scheduling decision is and why: its mode and reason, the labels of
// pdgate_pd_decisions_total. Apart from scheduler.h, so the metrics can name them cheaply.
#include <cstdint>
#include <string_view>

namespace pdgate::pd_scheduler {

enum class DecisionMode : uint8_t { kNone, kDisaggregated, kDecodeOnly, kAggregated };
// Why a decision took its mode.
enum class DecisionReason : uint8_t {
  kNoEndpoints,
  kAggregated,
  kDeciderOff,   // disaggregated: the decider is off
  kLongPrompt,   // disaggregated: more uncached tokens than the decider's bound
  kShortPrompt,  // decode-only: few enough uncached tokens
  kNoPrefill,
  kNoDecode,
};

std::string_view ToString(DecisionMode mode);
std::string_view ToString(DecisionReason reason);

}  // namespace pdgate::pd_scheduler
