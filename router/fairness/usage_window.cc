#include "router/fairness/usage_window.h"

namespace pdgate::fairness {
namespace {

int64_t SliceIndex(Clock::duration window, Clock::time_point now) {
  const int64_t length = std::max<int64_t>(1, window.count() / int64_t(UsageWindow::kSlices));
  return now.time_since_epoch().count() / length;
}

}  // namespace

void UsageWindow::Add(double weighted_tokens, int64_t requests, Clock::duration window,
                      Clock::time_point now) {
  const int64_t index = SliceIndex(window, now);
  Slice& slice = slices_[size_t(index % int64_t(kSlices))];
  if (slice.index != index) slice = Slice{index, 0, 0};
  slice.tokens += weighted_tokens;
  slice.requests += requests;
}

UsageWindow::Sum UsageWindow::Recent(Clock::duration window, Clock::time_point now) const {
  const int64_t current = SliceIndex(window, now);
  Sum sum;
  for (const Slice& slice : slices_) {
    if (slice.index < 0 || current - slice.index >= int64_t(kSlices)) continue;
    sum.tokens += slice.tokens;
    sum.requests += slice.requests;
  }
  return sum;
}

bool UsageWindow::Empty(Clock::duration window, Clock::time_point now) const {
  const int64_t current = SliceIndex(window, now);
  for (const Slice& slice : slices_) {
    if (slice.index >= 0 && current - slice.index < int64_t(kSlices)) return false;
  }
  return true;
}

}  // namespace pdgate::fairness
