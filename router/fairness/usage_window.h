#pragma once
// One principal's recent usage: weighted tokens and requests over a sliding window, kept as a
// ring of slices (the window's resolution), so a score costs a dozen additions and no history
// is stored per request. Kthena's token tracker keeps the same two sums per user.
#include <array>
#include <chrono>
#include <cstdint>

namespace pdgate::fairness {

using Clock = std::chrono::steady_clock;

class UsageWindow {
 public:
  static constexpr size_t kSlices = 12;

  void Add(double weighted_tokens, int64_t requests, Clock::duration window, Clock::time_point now);
  struct Sum {
    double tokens = 0;
    int64_t requests = 0;
  };
  // What was added within the last `window` (to the resolution of one slice).
  Sum Recent(Clock::duration window, Clock::time_point now) const;
  bool Empty(Clock::duration window, Clock::time_point now) const;

 private:
  struct Slice {
    int64_t index = -1;  // which slice of time (now / slice length); -1: never used
    double tokens = 0;
    int64_t requests = 0;
  };
  std::array<Slice, kSlices> slices_{};
};

}  // namespace pdgate::fairness
