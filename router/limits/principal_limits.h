#pragma once
// Limits per principal (RouterConfiguration `rateLimits`): each limit keeps one bucket set per
// distinct user, tenant or API key among the requests it matches. The sets live in a sharded
// map: a request locks one of 64 shards for a lookup, so io threads rarely meet, and never
// across the whole map. Memory is bounded: a set whose buckets are all full again is the same
// as no set and is dropped by EvictIdle(); past `max_principals` a principal starts afresh (a
// bound on memory wins over
// exactness for the millionth principal), and the oldest set of its shard goes.
#include <absl/container/flat_hash_map.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/router_settings.h"
#include "base/strings.h"
#include "router/limits/gcra.h"
#include "router/limits/limit_check.h"

namespace pdgate::limits {

struct PrincipalBuckets {
  std::atomic<int64_t> requests{0};
  std::atomic<int64_t> input{0};
  std::atomic<int64_t> output{0};
};

class BucketMap {
 public:
  explicit BucketMap(size_t max_principals);
  // The principal's set, created when missing.
  std::shared_ptr<PrincipalBuckets> Get(std::string_view principal);
  // Drops the sets that are full again at `now_us` (nothing to remember); returns how many.
  size_t EvictIdle(int64_t now_us);
  size_t size() const;
  uint64_t evicted_full() const { return evicted_full_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 64;
  struct Shard {
    mutable std::mutex mutex;
    absl::flat_hash_map<std::string, std::shared_ptr<PrincipalBuckets>, StringViewHash,
                        std::equal_to<>>
        sets;
    std::deque<std::string> order;  // creation order, for the bound
  };
  size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> evicted_full_{0};  // sets dropped by the bound, not by idleness
};

// Who a request is, as far as limits care.
struct Identity {
  std::string_view user;
  std::string_view tenant;
  std::string_view api_key;  // the key's id
};

struct PrincipalLimit {
  config::PrincipalLimitSetting setting;
  std::string owner;  // "limit <name>", for messages
  std::string_view unit;
  std::optional<GcraParams> requests;
  std::optional<GcraParams> input;
  std::optional<GcraParams> output;
  std::shared_ptr<BucketMap> buckets;  // kept across reloads while the limit is the same
};

class PrincipalLimits {
 public:
  PrincipalLimits(const config::RouterSettings& settings, const PrincipalLimits* previous,
                  size_t max_principals = 1000000);
  const std::vector<PrincipalLimit>& all() const { return limits_; }
  bool empty() const { return limits_.empty(); }

 private:
  std::vector<PrincipalLimit> limits_;
};

bool Matches(const PrincipalLimit& limit, std::string_view model, const Identity& who);
// The value `limit` keys its buckets on: who's user, tenant or API key id.
std::string_view PrincipalOf(const PrincipalLimit& limit, const Identity& who);
// For a limit in Redis: "pdgate:pl:{<limit>:<user|tenant|apiKey>:<principal>}:", to which
// "requests", "input" or "output" is appended. The braces are the principal's Redis Cluster hash
// tag; a principal over 128 bytes or with spaces, braces or non-ASCII bytes is written as "#"
// and its XXH3-64 in hex.
std::string RedisKeyPrefix(const PrincipalLimit& limit, const Identity& who);
// Adds the buckets of `who` under `limit` to a request's check; `sets` keeps them alive for
// the request. `limit_index`: the limit's index in PrincipalLimits::all(), kept in each bucket's
// `counter` for counting refusals.
void AddBuckets(const PrincipalLimit& limit, const Identity& who, LimitCheck& check,
                std::vector<std::shared_ptr<PrincipalBuckets>>& sets, int limit_index);

}  // namespace pdgate::limits
