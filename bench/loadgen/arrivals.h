#pragma once
// Open-loop arrival times, as vLLM bench serve draws them: gaps from a gamma distribution with
// shape = burstiness and mean 1/rate (burstiness 1 is a Poisson process; < 1 burstier, > 1
// more regular). An infinite rate sends everything at once. Seeded.
#include <cstdint>
#include <limits>
#include <random>

namespace pdgate::loadgen {

class Arrivals {
 public:
  Arrivals(double rate, double burstiness, uint64_t seed)
      : rate_(rate),
        rng_(seed),
        gap_(burstiness > 0 ? burstiness : 1.0,
             1.0 / ((rate > 0 ? rate : 1.0) * (burstiness > 0 ? burstiness : 1.0))) {}
  // Seconds from the start of the run at which the next request goes out.
  double Next() {
    if (!(rate_ < std::numeric_limits<double>::infinity())) return 0;
    const double at = next_;
    next_ += gap_(rng_);
    return at;
  }

 private:
  double rate_;
  double next_ = 0;
  std::mt19937_64 rng_;
  std::gamma_distribution<double> gap_;
};

}  // namespace pdgate::loadgen
