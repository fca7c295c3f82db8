#pragma once
// The GCRA script (gcra_script.h) over one io thread's Redis connection, with the debits after
// each answer held back and folded into the next check: one script call per request, not two.
//
// A request is checked at admission (awaited) and debited after its answer (not awaited). Sent
// as they come, the debits double the script calls Redis runs, and Redis shares the machine
// with the router. Instead, Debit() adds the cost to a per-key sum on this thread, and the next
// Check() whose keys share the debit's hash tag carries the sums in the same EVALSHA, applied
// before the check: a debt left by the last answer refuses the next request as it did when sent
// alone. A debit of another hash tag (another route, on a Redis Cluster another shard) cannot
// ride along; when no check of its tag comes within flush_delay, or when more than
// max_pending_keys keys are waiting, the waiting debits go out as plain debit calls, one per tag.
//
// What changes for the buckets: a debit reaches Redis up to flush_delay later (a replica may
// admit one more request in that window, as it could while the debit was in flight), and
// charges and refunds of one key within that window are summed before they are applied, which
// clamps once instead of at each step (a refund can no longer be lost to a full bucket and then
// be followed by a charge, only netted against it). A key's emission interval is the last one
// given (a reload may change it between two debits).
//
// Debits are never lost silently: when the call carrying them fails, they are dropped (retrying
// could charge twice: a timed-out script may have run), `debits_lost` is told how many keys lost
// theirs, and a warning is logged at most once a second. Destroying the client drops what waits.
//
// Not thread-safe: owned by one io thread, like the connection. Lifetime: as RedisConnection,
// the state is shared with the coroutines it spawns; destroy the client before its io_context.
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "router/limits/gcra_script.h"
#include "router/limits/redis_connection.h"

namespace pdgate::limits {

struct GcraClientOptions {
  std::chrono::milliseconds flush_delay{5};  // longest a debit waits for a check of its tag
  size_t max_pending_keys = 256;             // beyond this many keys waiting: send them all now
};

class GcraClient {
 public:
  // Told, on this thread, how many keys' debits a failed call dropped.
  using LostDebits = std::function<void(size_t keys)>;

  GcraClient(net::io_context& ioc, RedisOptions redis, GcraClientOptions options = {},
             LostDebits debits_lost = {});
  ~GcraClient();
  GcraClient(const GcraClient&) = delete;
  GcraClient& operator=(const GcraClient&) = delete;

  // GcraCheck over `keys` (one hash tag), carrying the waiting debits of that tag.
  // GCC 12: pass a named local (see router/http/client_io.h).
  Task<absl::StatusOr<GcraOutcome>> Check(const std::vector<GcraKey>& keys);

  // Adds a charge or refund to its key's waiting sum. InvalidArgument when !ValidCharge.
  absl::Status Debit(const GcraCharge& charge);

  // Keys whose debits wait for a check or the timer.
  size_t pending_keys() const;

  struct State;  // defined in the .cc

 private:
  std::shared_ptr<State> state_;
};

}  // namespace pdgate::limits
