#pragma once
// The global token rate limiter's Redis side: GCRA (generic cell rate algorithm) over TAT keys,
// evaluated by one Lua script per request, over all of the request's keys at once.
//
// A key holds a TAT, the theoretical arrival time in microseconds of Redis's clock (TIME), as an
// integer string. For a limit of L units per period P the emission interval is ei = P/L µs and
// the tolerance burst = ei*L = P (a full bucket). A key that is absent or behind `now` counts as
// `now` (a full bucket).
//
// check (admission): for every key tat = max(GET, now); the key allows iff
//   now >= tat + check_cost*ei - burst.
// If any key refuses, nothing is written and retry_after = max over refusing keys of
// (tat + check_cost*ei - burst - now). Otherwise each key with reserve_cost > 0 is set to
// new = ceil(tat + reserve_cost*ei). Per key: remaining = max(floor((burst - (t - now))/ei), 0)
// and reset = t - now (time until the bucket is full again), t = new when written, else tat.
// debit (after the answer, no check): per key t = max(ceil(max(GET, now) + cost*ei), now); a
// negative cost refunds.
// Either mode stores t with PX = ceil((t-now)/1000)+1000 ms (a full bucket needs no key: DEL when
// t <= now), so keys vanish a second after their bucket refills.
//
// Rounding the TAT up to whole microseconds makes a key at most 1 µs per update stricter than the
// exact algorithm; the local limiter (the fallback) rounds the same way.
//
// All keys of one call must share one Redis Cluster hash tag (e.g. "pdgate:rl:{tenant:model}:in"
// and "...:out"), so that the script runs on one shard: GcraCheck/GcraDebit refuse keys that do
// not. Time is Redis's, so replicas with skewed clocks still agree.
//
// Why GCRA and not Kthena's token bucket (research/round2.md B.1, B.7): one integer per key, an
// exact retry-after, and a debit that can push the TAT into the future, so that output tokens
// beyond the budget are charged as debt instead of being forgotten.
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/limits/redis_connection.h"

namespace pdgate::limits {

struct GcraKey {
  std::string key;
  double ei_us = 0;         // emission interval: period / limit, > 0
  double burst_us = 0;      // tolerance: ei * limit (the period)
  double check_cost = 0;    // units that must fit now (≥ 0)
  double reserve_cost = 0;  // units charged on admission (≥ 0)
};

struct GcraOutcome {
  bool allowed = false;
  int64_t retry_after_us = 0;      // when denied: wait at least this long
  std::vector<int64_t> remaining;  // per key, in the order given
  std::vector<int64_t> reset_us;   // per key: until the bucket is full again
};

// Admission over all keys in one round trip (EVALSHA, EVAL when Redis lost the script). Fails
// with InvalidArgument (bad numbers, keys in different hash slots), the connection's errors, or
// Internal/Unavailable when Redis answers with an error or an unexpected shape.
// GCC 12: pass named locals (see router/http/client_io.h).
net::awaitable<absl::StatusOr<GcraOutcome>> GcraCheck(RedisConnection& redis,
                                                      const std::vector<GcraKey>& keys);

// Charges (cost > 0) or refunds (cost < 0) each key without a check. Only `key` and `ei_us` of
// the GcraKey are used.
net::awaitable<absl::Status> GcraDebit(RedisConnection& redis,
                                       const std::vector<std::pair<GcraKey, double>>& charges);

// The script and its SHA-1 (hex), for EVALSHA, SCRIPT LOAD and tests.
std::string_view GcraScript();
const std::string& GcraScriptSha1();

// Redis Cluster's hash tag of a key: the part between the first '{' and the next '}' when that
// is not empty, else the whole key.
std::string_view HashTag(std::string_view key);

}  // namespace pdgate::limits
