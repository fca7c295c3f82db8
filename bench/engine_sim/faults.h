#pragma once
// Fault injection, set by flags and changed at runtime (POST /admin/faults). Each request draws
// its faults from a seeded RNG, so a run with the same seed and order fails the same requests.
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace pdgate::sim {

struct FaultConfig {
  double fail_rate = 0;             // fraction of requests answered with fail_status
  int fail_status = 503;            // 429, 500 or 503
  double stall_first_byte_s = 0;    // delay before anything is sent
  double stall_mid_stream_s = 0;    // pause of a stream after mid_stream_after_tokens tokens
  double drop_mid_stream_rate = 0;  // fraction of streams whose connection is cut mid-way
  int mid_stream_after_tokens = 3;
  int64_t exit_after = 0;         // the process exits (code 3) when request exit_after+1 arrives
  double prefill_multiplier = 1;  // latency multipliers on the cost model
  double decode_multiplier = 1;
};

struct FaultDecision {
  int fail_status = 0;  // 0: none
  double stall_first_byte_s = 0;
  double stall_mid_stream_s = 0;
  bool drop_mid_stream = false;
  int mid_stream_after_tokens = 0;
  bool exit_now = false;
};

class Faults {
 public:
  Faults(FaultConfig config, uint64_t seed) : config_(config), rng_(seed) {}
  FaultDecision Decide();
  FaultConfig config() const;
  void set_config(const FaultConfig& config);
  // Applies the fields present in a JSON object (names as in FaultConfig). Returns an error
  // message, or empty on success.
  std::string Update(std::string body);
  std::string ToJson() const;

 private:
  mutable std::mutex mu_;
  FaultConfig config_;
  std::mt19937_64 rng_;
  int64_t requests_ = 0;
};

}  // namespace pdgate::sim
