#pragma once
// Exponential backoff with jitter for reconnecting to a server that failed: each delay is half
// the current step plus a random share of the other half ("equal jitter"), so many pdgate
// replicas that lost the API server together do not come back in lockstep, yet no delay is
// near zero. The step doubles up to a cap and starts over after a success. Randomness is a
// parameter, so tests need no clock and no seed.
#include <algorithm>
#include <chrono>

namespace pdgate::discovery {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : initial_(initial), cap_(cap), step_(initial) {}

  // `random01` is uniform in [0, 1).
  std::chrono::milliseconds Next(double random01) {
    const auto half = step_ / 2;
    const auto delay = half + std::chrono::milliseconds(static_cast<int64_t>(
                                  double((step_ - half).count()) * std::clamp(random01, 0.0, 1.0)));
    step_ = std::min(step_ * 2, cap_);
    return delay;
  }
  void Reset() { step_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds cap_;
  std::chrono::milliseconds step_;
};

}  // namespace pdgate::discovery
