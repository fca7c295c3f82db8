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
// One script (one SHA), two modes, chosen by ARGV[1]:
//   check: KEYS = d debit keys, then m >= 1 check keys.
//          ARGV = "check", d, then per debit key (ei_us, cost), then per check key (ei_us,
//          burst_us, check_cost, reserve_cost).
//          The debits are applied first, exactly as in debit mode, then the check runs over the
//          check keys (which may include debited keys: a debt just written refuses the check).
//          Reply: {allowed 0|1, retry_after_us, then per check key remaining, reset_us}.
//   debit: KEYS = n debit keys; ARGV = "debit", then per key (ei_us, cost). Reply: n.
// A malformed call (counts, numbers) is an error reply and writes nothing. Debits travel inside
// the next check of their hash tag (GcraClient, gcra_client.h), so that a request costs Redis one
// script call; debit mode is for those no check picks up in time. (Before debits were folded,
// "check" had no count: a changed script is a new SHA, so replicas of both versions can share a
// Redis during a rolling upgrade, each running its own script.)
//
// Rounding the TAT up to whole microseconds makes a key at most 1 µs per update stricter than the
// exact algorithm; the local limiter (the fallback) rounds the same way.
//
// All keys of one call, debits included, must share one Redis Cluster hash tag (e.g.
// "pdgate:rl:{tenant:model}:in" and "...:out"), so that the script runs on one shard:
// GcraCheck/GcraDebit refuse keys that do not. Time is Redis's, so replicas with skewed clocks
// still agree.
//
// Why GCRA and not Kthena's token bucket (research/round2.md B.1, B.7): one integer per key, an
// exact retry-after, and a debit that can push the TAT into the future, so that output tokens
// beyond the budget are charged as debt instead of being forgotten.
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <string>
#include <string_view>
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

// A charge (cost > 0) or refund (cost < 0) of `cost` units on one key, after the answer.
struct GcraCharge {
  std::string key;
  double ei_us = 0;  // the key's emission interval, > 0
  double cost = 0;
};

struct GcraOutcome {
  bool allowed = false;
  int64_t retry_after_us = 0;      // when denied: wait at least this long
  std::vector<int64_t> remaining;  // per key, in the order given
  std::vector<int64_t> reset_us;   // per key: until the bucket is full again
};

// Admission over all keys in one round trip (EVALSHA, EVAL when Redis lost the script), after
// applying `debits` (each key at most once; a check key may be one) in the same call. Fails with
// InvalidArgument (bad numbers, no check key, keys in different hash slots; nothing is sent), the
// connection's errors, or Internal/Unavailable when Redis answers with an error or an unexpected
// shape. When it fails otherwise than InvalidArgument, the debits may or may not have been applied.
// GCC 12: pass named locals (see router/http/client_io.h).
Task<absl::StatusOr<GcraOutcome>> GcraCheck(RedisConnection& redis,
                                                      const std::vector<GcraKey>& keys,
                                                      const std::vector<GcraCharge>& debits);
Task<absl::StatusOr<GcraOutcome>> GcraCheck(RedisConnection& redis,
                                                      const std::vector<GcraKey>& keys);

// Charges or refunds each key (each at most once) without a check.
Task<absl::Status> GcraDebit(RedisConnection& redis,
                                       const std::vector<GcraCharge>& debits);

// A key, a finite cost and an emission interval > 0.
bool ValidCharge(const GcraCharge& charge);

// The script and its SHA-1 (hex), for EVALSHA, SCRIPT LOAD and tests.
std::string_view GcraScript();
const std::string& GcraScriptSha1();

// Redis Cluster's hash tag of a key: the part between the first '{' and the next '}' when that
// is not empty, else the whole key.
std::string_view HashTag(std::string_view key);

}  // namespace pdgate::limits
