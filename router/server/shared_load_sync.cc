#include "router/server/shared_load_sync.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <vector>

#include "base/strings.h"
#include "discovery/uncaught.h"
#include "router/http/client_io.h"

namespace pdgate::router {
namespace {

// All keys share the hash tag {pdgate}: one Redis Cluster slot. The script reads the other
// replicas' hashes by name (not through KEYS), which a Cluster allows within one slot.
constexpr std::string_view kPrefix = "pdgate:load:{pdgate}:";
constexpr std::string_view kReplicas = "pdgate:load:{pdgate}#replicas";
constexpr std::string_view kPresent = "_";  // a field every live replica's hash has
constexpr size_t kHsetChunk = 1000;         // arguments per HSET (Lua's unpack limit)

constexpr std::string_view kScript = R"lua(
redis.call('DEL', KEYS[1])
local chunk = tonumber(ARGV[4])
local i = 5
while i <= #ARGV do
  local last = math.min(i + chunk - 1, #ARGV)
  redis.call('HSET', KEYS[1], unpack(ARGV, i, last))
  i = last + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if id ~= ARGV[2] then
    local fields = redis.call('HGETALL', ARGV[3] .. id)
    if #fields == 0 then
      redis.call('SREM', KEYS[2], id)
    else
      out[#out + 1] = id
      out[#out + 1] = fields
    end
  end
end
return out
)lua";

// Fewer log lines while Redis stays down: the first failure, then one a minute.
constexpr size_t kLogEvery = 1200;

// "p d t": three integers separated by single spaces.
bool ParseLoad(std::string_view text, int32_t& prefill, int32_t& decode, int64_t& tokens) {
  const char* at = text.data();
  const char* end = text.data() + text.size();
  auto next = [&](auto& out, bool last) {
    auto [ptr, ec] = std::from_chars(at, end, out);
    if (ec != std::errc() || (last ? ptr != end : (ptr == end || *ptr != ' '))) return false;
    at = last ? ptr : ptr + 1;
    return true;
  };
  return next(prefill, false) && next(decode, false) && next(tokens, true);
}

}  // namespace

struct SharedLoadSync::Metrics {
  prometheus::Counter* ok = nullptr;
  prometheus::Counter* failed = nullptr;
};

std::string EncodeLoad(const discovery::LiveEndpoint& live) {
  return StrCat(live.prefill_in_flight.load(std::memory_order_relaxed), " ",
                live.decode_in_flight.load(std::memory_order_relaxed), " ",
                live.prefill_tokens_in_flight.load(std::memory_order_relaxed));
}

absl::StatusOr<absl::flat_hash_map<std::string, SharedLoad>> SumReplicaLoads(
    const limits::RedisReply& reply) {
  using Type = limits::RedisReply::Type;
  if (reply.type != Type::kArray || reply.elements.size() % 2 != 0) {
    return absl::InternalError("the shared-state script answered an unexpected shape");
  }
  absl::flat_hash_map<std::string, SharedLoad> sums;
  for (size_t r = 0; r < reply.elements.size(); r += 2) {
    const limits::RedisReply& fields = reply.elements[r + 1];
    if (fields.type != Type::kArray || fields.elements.size() % 2 != 0) {
      return absl::InternalError("a replica's hash has an unexpected shape");
    }
    for (size_t f = 0; f < fields.elements.size(); f += 2) {
      const std::string& key = fields.elements[f].str;
      if (key == kPresent) continue;
      int32_t prefill = 0, decode = 0;
      int64_t tokens = 0;
      if (!ParseLoad(fields.elements[f + 1].str, prefill, decode, tokens)) {
        return absl::InternalError(StrCat("replica ", reply.elements[r].str,
                                          " published an unreadable load for ", key));
      }
      SharedLoad& sum = sums[key];
      sum.prefill += prefill;
      sum.decode += decode;
      sum.prefill_tokens += tokens;
    }
  }
  return sums;
}

std::string DefaultReplicaId() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return StrCat(host, "-", int64_t(getpid()));
}

SharedLoadSync::SharedLoadSync(net::io_context& ioc,
                               std::function<std::shared_ptr<const RouterState>()> current,
                               prometheus::Registry& registry)
    : ioc_(ioc),
      current_(std::move(current)),
      metrics_(std::make_unique<Metrics>()),
      default_replica_id_(DefaultReplicaId()) {
  auto& syncs = prometheus::BuildCounter()
                    .Name("pdgate_shared_state_syncs_total")
                    .Help("Exchanges of in-flight counts with the other replicas through Redis")
                    .Register(registry);
  metrics_->ok = &syncs.Add({{"result", "ok"}});
  metrics_->failed = &syncs.Add({{"result", "error"}});
}

SharedLoadSync::~SharedLoadSync() = default;

void SharedLoadSync::Start() { net::co_spawn(ioc_, Run(), ReportUncaught{SpawnSite::kSharedLoadSync}); }

void SharedLoadSync::ClearRemote(const RouterState& state) {
  for (const discovery::ServerEndpoints& server : state.endpoints->servers) {
    for (const discovery::Endpoint& endpoint : server.endpoints) {
      endpoint.live->remote_prefill_in_flight.store(0, std::memory_order_relaxed);
      endpoint.live->remote_decode_in_flight.store(0, std::memory_order_relaxed);
      endpoint.live->remote_prefill_tokens_in_flight.store(0, std::memory_order_relaxed);
    }
  }
  had_remote_ = false;
}

Task<bool> SharedLoadSync::SyncOnce(const RouterState& state) {
  const config::SharedStateSettings& settings = state.config->settings.shared_state;
  const std::string address = StrCat(settings.redis_host, ":", settings.redis_port);
  if (!redis_ || address != redis_address_) {
    limits::RedisOptions options;
    options.host = settings.redis_host;
    options.port = settings.redis_port;
    options.password = settings.password;
    options.command_timeout = std::max(settings.sync_interval, std::chrono::milliseconds(50));
    redis_ = std::make_unique<limits::RedisConnection>(ioc_, std::move(options));
    redis_address_ = address;
  }
  const std::string& replica =
      settings.replica_id.empty() ? default_replica_id_ : settings.replica_id;
  const auto ttl = std::max<int64_t>(500, 3 * settings.sync_interval.count());
  std::vector<std::string> argv = {"EVAL",
                                   std::string(kScript),
                                   "2",
                                   StrCat(kPrefix, replica),
                                   std::string(kReplicas),
                                   StrCat(ttl),
                                   replica,
                                   std::string(kPrefix),
                                   StrCat(kHsetChunk),
                                   std::string(kPresent),
                                   "1"};
  absl::flat_hash_map<const discovery::LiveEndpoint*, bool> seen;
  for (const discovery::ServerEndpoints& server : state.endpoints->servers) {
    for (const discovery::Endpoint& endpoint : server.endpoints) {
      const discovery::LiveEndpoint& live = *endpoint.live;
      if (!seen.emplace(&live, true).second) continue;
      if (live.prefill_in_flight.load(std::memory_order_relaxed) == 0 &&
          live.decode_in_flight.load(std::memory_order_relaxed) == 0) {
        continue;  // absent means idle: the hash stays small
      }
      argv.push_back(live.key());
      argv.push_back(EncodeLoad(live));
    }
  }
  absl::StatusOr<limits::RedisReply> reply = co_await redis_->Command(argv);
  absl::StatusOr<absl::flat_hash_map<std::string, SharedLoad>> sums =
      !reply.ok()          ? absl::StatusOr<absl::flat_hash_map<std::string, SharedLoad>>(
                                 reply.status())
      : reply->is_error() ? absl::StatusOr<absl::flat_hash_map<std::string, SharedLoad>>(
                                 absl::InternalError(reply->str))
                           : SumReplicaLoads(*reply);
  if (!sums.ok()) {
    metrics_->failed->Increment();
    if (failures_in_row_++ % kLogEvery == 0) {
      spdlog::warn("sharedState: Redis {}: {}; routing on this replica's own load meanwhile",
                   address, std::string(sums.status().message()));
    }
    if (had_remote_) ClearRemote(state);
    co_return false;
  }
  if (failures_in_row_ > 0) spdlog::info("sharedState: Redis {} answers again", address);
  failures_in_row_ = 0;
  metrics_->ok->Increment();
  for (const discovery::ServerEndpoints& server : state.endpoints->servers) {
    for (const discovery::Endpoint& endpoint : server.endpoints) {
      discovery::LiveEndpoint& live = *endpoint.live;
      auto it = sums->find(live.key());
      const SharedLoad load = it == sums->end() ? SharedLoad{} : it->second;
      live.remote_prefill_in_flight.store(load.prefill, std::memory_order_relaxed);
      live.remote_decode_in_flight.store(load.decode, std::memory_order_relaxed);
      live.remote_prefill_tokens_in_flight.store(load.prefill_tokens, std::memory_order_relaxed);
    }
  }
  had_remote_ = !sums->empty();
  co_return true;
}

Task<void> SharedLoadSync::Run() {
  SteadyTimer timer(ioc_);
  while (true) {
    std::chrono::milliseconds interval(500);  // off: waiting for a reload that turns it on
    {
      // Not held across the wait: a state replaced meanwhile must be free to go.
      const std::shared_ptr<const RouterState> state = current_();
      const config::SharedStateSettings& settings = state->config->settings.shared_state;
      if (settings.enabled()) {
        interval = settings.sync_interval;
        co_await SyncOnce(*state);
      } else {
        if (had_remote_) ClearRemote(*state);
        redis_.reset();
        redis_address_.clear();
      }
    }
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
  }
}

}  // namespace pdgate::router
