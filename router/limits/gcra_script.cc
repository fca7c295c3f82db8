#include "router/limits/gcra_script.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <openssl/sha.h>

#include <charconv>
#include <cmath>

namespace pdgate::limits {

namespace {

// The protocol is described in gcra_script.h. KEYS: the debit keys, then the check keys.
//   ARGV = {"check", d, d x (ei_us, cost), (#KEYS - d) x (ei_us, burst_us, check_cost,
//           reserve_cost)}, d >= 0 debits and at least one check key
//        → {allowed 0|1, retry_after_us, then per check key remaining, reset_us};
//   ARGV = {"debit", #KEYS x (ei_us, cost)} → the number of keys.
// Every number is read before the first write, so a malformed call changes nothing.
// Numbers are Lua doubles; `now` (~1.7e15 µs) is exact in a double (< 2^53). Values are rounded
// to integers before they are returned, because Redis truncates Lua numbers in replies.
// Redis ≥ 5 replicates a script's effects, so writing after TIME is allowed.
constexpr std::string_view kScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local function tat_of(key)
  local v = tonumber(redis.call('GET', key))
  if v == nil or v < now then return now end
  return v
end
local function store(key, tat)
  if tat > now then
    redis.call('SET', key, string.format('%.0f', tat), 'PX',
               string.format('%.0f', math.ceil((tat - now) / 1000) + 1000))
  else
    redis.call('DEL', key)
  end
end
local function bad(what)
  return redis.error_reply('ERR pdgate gcra: ' .. what)
end
-- The (ei, cost) pairs of KEYS[1..count] from ARGV[first]; nil when one is not a number.
local function read_debits(count, first)
  local debits = {}
  for i = 1, count do
    local a = first + 2 * (i - 1)
    local ei, cost = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    if not (ei and cost) or ei <= 0 then return nil end
    debits[i] = {ei, cost}
  end
  return debits
end
local function apply_debits(debits)
  for i = 1, #debits do
    local tat = math.ceil(tat_of(KEYS[i]) + debits[i][2] * debits[i][1])
    if tat < now then tat = now end
    store(KEYS[i], tat)
  end
end
local n = #KEYS
if ARGV[1] == 'check' then
  local d = tonumber(ARGV[2])
  if d == nil or d < 0 or d % 1 ~= 0 or d >= n then return bad('bad debit count') end
  if #ARGV ~= 2 + 2 * d + 4 * (n - d) then return bad('wrong number of arguments') end
  local debits = read_debits(d, 3)
  if debits == nil then return bad('bad number') end
  local m = n - d
  local eis, bursts, checks, reserves = {}, {}, {}, {}
  for i = 1, m do
    local a = 3 + 2 * d + 4 * (i - 1)
    local ei, burst = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local check, reserve = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    if not (ei and burst and check and reserve) or ei <= 0 then return bad('bad number') end
    eis[i], bursts[i], checks[i], reserves[i] = ei, burst, check, reserve
  end
  -- Earlier requests' usage first: a debt they left refuses this check.
  apply_debits(debits)
  local tats = {}
  local allowed, retry = true, 0
  for i = 1, m do
    local tat = tat_of(KEYS[d + i])
    local allow_at = tat + checks[i] * eis[i] - bursts[i]
    if now < allow_at then
      allowed = false
      if allow_at - now > retry then retry = allow_at - now end
    end
    tats[i] = tat
  end
  local out = {allowed and 1 or 0, math.ceil(retry)}
  for i = 1, m do
    local tat = tats[i]
    if allowed and reserves[i] > 0 then
      tat = math.ceil(tat + reserves[i] * eis[i])
      store(KEYS[d + i], tat)
    end
    local remaining = math.floor((bursts[i] - (tat - now)) / eis[i])
    if remaining < 0 then remaining = 0 end
    out[#out + 1] = remaining
    out[#out + 1] = tat - now
  end
  return out
elseif ARGV[1] == 'debit' then
  if #ARGV ~= 1 + 2 * n then return bad('wrong number of arguments') end
  local debits = read_debits(n, 2)
  if debits == nil then return bad('bad number') end
  apply_debits(debits)
  return n
end
return bad('unknown mode')
)lua";

std::string Sha1Hex(std::string_view text) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(size_t{2} * SHA_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    hex.push_back(kHex[byte >> 4]);
    hex.push_back(kHex[byte & 0xf]);
  }
  return hex;
}

// Shortest text that reads back as the same double (Lua's tonumber parses it). Whole numbers
// (token counts) are written as integers: the same number, at a fraction of the cost.
std::string Number(double value) {
  char buffer[32];
  constexpr double kExactInteger = 9007199254740992.0;  // 2^53
  if (value == std::trunc(value) && std::fabs(value) < kExactInteger) {
    return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, int64_t(value)).ptr);
  }
  return std::string(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

absl::Status CheckKeys(const std::vector<std::string_view>& keys) {
  if (keys.empty()) return absl::InvalidArgumentError("gcra: no keys");
  std::string_view tag = HashTag(keys.front());
  for (std::string_view key : keys) {
    if (HashTag(key) != tag) {
      return absl::InvalidArgumentError(absl::StrCat("gcra: keys \"", std::string(keys.front()),
                                                     "\" and \"", std::string(key),
                                                     "\" do not share a hash tag"));
    }
  }
  return absl::OkStatus();
}

bool Finite(double value) { return std::isfinite(value); }

// Redis's answers that mean "try again later" rather than a broken script or a wrong call.
bool IsTransientError(const std::string& message) {
  for (const char* prefix :
       {"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "OOM"}) {
    if (absl::StartsWith(message, prefix)) return true;
  }
  return false;
}

// argv is EVALSHA's (EVALSHA sha numkeys ...). When Redis does not know the script (restarted,
// SCRIPT FLUSH, a failover to a replica that never saw it) it is sent once more in full by EVAL,
// which also caches it for the next EVALSHA.
Task<absl::StatusOr<RedisReply>> RunScript(RedisConnection& redis,
                                                     std::vector<std::string>& argv) {
  absl::StatusOr<RedisReply> reply = co_await redis.Command(argv);
  if (reply.ok() && reply->is_error() && absl::StartsWith(reply->str, "NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = std::string(kScript);
    reply = co_await redis.Command(argv);
  }
  if (!reply.ok()) co_return reply.status();
  if (reply->is_error()) {
    std::string message = absl::StrCat("redis gcra script: ", reply->str);
    if (IsTransientError(reply->str)) co_return absl::UnavailableError(message);
    co_return absl::InternalError(message);
  }
  co_return reply;
}

absl::StatusOr<GcraOutcome> ParseCheckReply(const RedisReply& reply, size_t keys) {
  auto malformed = [] { return absl::InternalError("redis gcra script: malformed reply"); };
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 2 + 2 * keys) {
    return malformed();
  }
  for (const RedisReply& element : reply.elements) {
    if (element.type != RedisReply::Type::kInteger || element.integer < 0) return malformed();
  }
  if (reply.elements[0].integer > 1) return malformed();
  GcraOutcome outcome;
  outcome.allowed = reply.elements[0].integer == 1;
  outcome.retry_after_us = reply.elements[1].integer;
  outcome.remaining.reserve(keys);
  outcome.reset_us.reserve(keys);
  for (size_t i = 0; i < keys; ++i) {
    outcome.remaining.push_back(reply.elements[2 + 2 * i].integer);
    outcome.reset_us.push_back(reply.elements[3 + 2 * i].integer);
  }
  return outcome;
}

}  // namespace

std::string_view GcraScript() { return kScript; }

const std::string& GcraScriptSha1() {
  static const std::string sha = Sha1Hex(kScript);
  return sha;
}

bool ValidCharge(const GcraCharge& charge) {
  return !charge.key.empty() && Finite(charge.ei_us) && charge.ei_us > 0 && Finite(charge.cost);
}

std::string_view HashTag(std::string_view key) {
  size_t open = key.find('{');
  if (open == std::string_view::npos) return key;
  size_t close = key.find('}', open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

Task<absl::StatusOr<GcraOutcome>> GcraCheck(RedisConnection& redis,
                                                      const std::vector<GcraKey>& keys,
                                                      const std::vector<GcraCharge>& debits) {
  std::vector<std::string_view> names;
  names.reserve(debits.size() + keys.size());
  for (const GcraCharge& debit : debits) {
    if (!ValidCharge(debit)) {
      co_return absl::InvalidArgumentError(absl::StrCat("gcra: bad debit for ", debit.key));
    }
    names.push_back(debit.key);
  }
  for (const GcraKey& key : keys) {
    if (!(Finite(key.ei_us) && key.ei_us > 0 && Finite(key.burst_us) && key.burst_us >= 0 &&
          Finite(key.check_cost) && key.check_cost >= 0 && Finite(key.reserve_cost) &&
          key.reserve_cost >= 0)) {
      co_return absl::InvalidArgumentError(absl::StrCat("gcra: bad parameters for ", key.key));
    }
    names.push_back(key.key);
  }
  if (keys.empty()) co_return absl::InvalidArgumentError("gcra: no keys");
  if (absl::Status valid = CheckKeys(names); !valid.ok()) co_return valid;

  std::vector<std::string> argv;
  argv.reserve(5 + 3 * debits.size() + 5 * keys.size());
  argv.push_back("EVALSHA");
  argv.push_back(GcraScriptSha1());
  argv.push_back(std::to_string(debits.size() + keys.size()));
  for (const GcraCharge& debit : debits) argv.push_back(debit.key);
  for (const GcraKey& key : keys) argv.push_back(key.key);
  argv.push_back("check");
  argv.push_back(std::to_string(debits.size()));
  for (const GcraCharge& debit : debits) {
    argv.push_back(Number(debit.ei_us));
    argv.push_back(Number(debit.cost));
  }
  for (const GcraKey& key : keys) {
    argv.push_back(Number(key.ei_us));
    argv.push_back(Number(key.burst_us));
    argv.push_back(Number(key.check_cost));
    argv.push_back(Number(key.reserve_cost));
  }
  absl::StatusOr<RedisReply> reply = co_await RunScript(redis, argv);
  if (!reply.ok()) co_return reply.status();
  co_return ParseCheckReply(*reply, keys.size());
}

Task<absl::StatusOr<GcraOutcome>> GcraCheck(RedisConnection& redis,
                                                      const std::vector<GcraKey>& keys) {
  static const std::vector<GcraCharge> kNoDebits;
  return GcraCheck(redis, keys, kNoDebits);
}

Task<absl::Status> GcraDebit(RedisConnection& redis,
                                       const std::vector<GcraCharge>& debits) {
  std::vector<std::string_view> names;
  names.reserve(debits.size());
  for (const GcraCharge& debit : debits) {
    if (!ValidCharge(debit)) {
      co_return absl::InvalidArgumentError(absl::StrCat("gcra: bad debit for ", debit.key));
    }
    names.push_back(debit.key);
  }
  if (absl::Status valid = CheckKeys(names); !valid.ok()) co_return valid;

  std::vector<std::string> argv;
  argv.reserve(4 + 3 * debits.size());
  argv.push_back("EVALSHA");
  argv.push_back(GcraScriptSha1());
  argv.push_back(std::to_string(debits.size()));
  for (const GcraCharge& debit : debits) argv.push_back(debit.key);
  argv.push_back("debit");
  for (const GcraCharge& debit : debits) {
    argv.push_back(Number(debit.ei_us));
    argv.push_back(Number(debit.cost));
  }
  absl::StatusOr<RedisReply> reply = co_await RunScript(redis, argv);
  if (!reply.ok()) co_return reply.status();
  if (reply->type != RedisReply::Type::kInteger) {
    co_return absl::InternalError("redis gcra script: malformed reply");
  }
  co_return absl::OkStatus();
}

}  // namespace pdgate::limits
