#pragma once
// sharedState: the replicas behind one Service share their in-flight legs per endpoint through
// Redis, so that least-request sees the whole fleet's load, not one replica's (a client's
// connections land on one replica; without this, N replicas each think an endpoint is idle).
//
// Every sync interval, the control thread runs one Lua script (one round trip) that replaces this
// replica's hash (endpoint key → "prefill decode prefill_tokens"; it expires after a few
// intervals, so a replica that dies leaves no counts behind), registers the replica, and returns
// every other live replica's hash. Their sums become each endpoint's remote_* counts, which
// the scheduler adds to its own. Kthena instead does HINCRBY ±1 around every upstream call (two
// Redis writes per leg on the request path, and counts that leak when a router dies).
//
// Redis down: the remote counts are cleared (each replica goes back to its own view) and the
// failure is counted and logged; syncing resumes by itself.
#include <absl/container/flat_hash_map.h>
#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <string>

#include "router/http/net.h"
#include "router/limits/redis_connection.h"
#include "router/runtime/router_state.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace pdgate::router {

struct SharedLoad {
  int32_t prefill = 0;
  int32_t decode = 0;
  int64_t prefill_tokens = 0;
};

// The script's answer: [replica, [field, value, ...], replica, ...] → per endpoint key, the sum
// over the other replicas. Malformed values are an error (a replica of another version).
absl::StatusOr<absl::flat_hash_map<std::string, SharedLoad>> SumReplicaLoads(
    const limits::RedisReply& reply);
// "prefill decode prefill_tokens" of one endpoint, as this replica publishes it.
std::string EncodeLoad(const discovery::LiveEndpoint& live);
// POD_NAME (the Downward API), else host name and pid.
std::string DefaultReplicaId();

class SharedLoadSync {
 public:
  // `current`: the newest state (called on the control thread, where the sync runs).
  SharedLoadSync(net::io_context& ioc, std::function<std::shared_ptr<const RouterState>()> current,
                 prometheus::Registry& registry);
  ~SharedLoadSync();
  void Start();  // spawns the loop on `ioc`

 private:
  Task<void> Run();
  Task<bool> SyncOnce(const RouterState& state);
  void ClearRemote(const RouterState& state);

  struct Metrics;
  net::io_context& ioc_;
  std::function<std::shared_ptr<const RouterState>()> current_;
  std::unique_ptr<Metrics> metrics_;
  const std::string default_replica_id_;  // POD_NAME or host-pid: read once
  std::unique_ptr<limits::RedisConnection> redis_;
  std::string redis_address_;  // what redis_ connects to ("host:port")
  bool had_remote_ = false;
  size_t failures_in_row_ = 0;
};

}  // namespace pdgate::router
