#include "router/limits/gcra_client.h"

#include <absl/container/flat_hash_map.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "base/strings.h"

namespace pdgate::limits {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kLogInterval{1};

// The debits of one hash tag, one entry per key, and since when the oldest has waited.
struct TagDebits {
  std::vector<GcraCharge> charges;
  Clock::time_point since;
};

void LogFlushEscaped(const std::exception_ptr& error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("rate limit: a Redis debit flush failed: {}", e.what());
  }
}

}  // namespace

struct GcraClient::State : std::enable_shared_from_this<State> {
  State(net::io_context& context, RedisOptions redis_options, GcraClientOptions opts,
        LostDebits lost)
      : ioc(context),
        redis(context, std::move(redis_options)),
        options(opts),
        debits_lost(std::move(lost)),
        timer(context) {}

  void Add(const GcraCharge& charge);
  // The debits of one tag, taken out of waiting (none of cost 0).
  std::vector<GcraCharge> Take(std::string_view tag);
  // Sends the debits of every tag that has waited flush_delay (all of them when `all`), one debit
  // call per tag; re-arms the timer for those left.
  void Flush(bool all);
  void ArmTimer(Clock::time_point when);
  Task<void> Send(std::shared_ptr<State> self, std::vector<GcraCharge> charges);
  void Lost(size_t keys, const absl::Status& why);

  net::io_context& ioc;
  RedisConnection redis;
  GcraClientOptions options;
  LostDebits debits_lost;
  SteadyTimer timer;
  std::optional<Clock::time_point> timer_at;  // when the armed timer fires
  bool closed = false;
  // By hash tag; looked up by a view of the key.
  absl::flat_hash_map<std::string, TagDebits, StringViewHash, std::equal_to<>> waiting;
  size_t waiting_keys = 0;
  std::optional<Clock::time_point> last_log;
  size_t unlogged = 0;  // keys lost since the last warning
};

void GcraClient::State::Add(const GcraCharge& charge) {
  const Clock::time_point now = Clock::now();
  auto [it, inserted] = waiting.try_emplace(HashTag(charge.key));
  TagDebits& tag = it->second;
  if (inserted) tag.since = now;
  // A tag's keys are few (a route has two): a scan beats a second map.
  auto same = std::find_if(tag.charges.begin(), tag.charges.end(),
                           [&](const GcraCharge& c) { return c.key == charge.key; });
  if (same == tag.charges.end()) {
    tag.charges.push_back(charge);
    ++waiting_keys;
  } else {
    same->cost += charge.cost;
    same->ei_us = charge.ei_us;
  }
  if (waiting_keys > options.max_pending_keys) {
    Flush(/*all=*/true);
  } else {
    ArmTimer(tag.since + options.flush_delay);
  }
}

std::vector<GcraCharge> GcraClient::State::Take(std::string_view tag) {
  std::vector<GcraCharge> charges;
  auto it = waiting.find(tag);
  if (it == waiting.end()) return charges;
  charges = std::move(it->second.charges);
  waiting.erase(it);
  waiting_keys -= charges.size();
  std::erase_if(charges, [](const GcraCharge& c) { return c.cost == 0; });
  return charges;
}

void GcraClient::State::Flush(bool all) {
  const Clock::time_point now = Clock::now();
  std::optional<Clock::time_point> next;
  std::vector<std::string> due;
  for (const auto& [tag, debits] : waiting) {
    const Clock::time_point at = debits.since + options.flush_delay;
    if (all || at <= now) {
      due.push_back(tag);
    } else if (!next || at < *next) {
      next = at;
    }
  }
  for (const std::string& tag : due) {
    std::vector<GcraCharge> charges = Take(tag);
    if (charges.empty()) continue;
    net::co_spawn(ioc, Send(shared_from_this(), std::move(charges)), LogFlushEscaped);
  }
  if (next) ArmTimer(*next);
}

void GcraClient::State::ArmTimer(Clock::time_point when) {
  if (timer_at && *timer_at <= when) return;  // fires early enough; Flush() re-arms for the rest
  timer_at = when;
  timer.expires_at(when);  // cancels a later wait, whose handler then returns
  timer.async_wait([self = shared_from_this(), when](boost::system::error_code ec) {
    if (ec || self->closed || self->timer_at != when) return;
    self->timer_at.reset();
    self->Flush(/*all=*/false);
  });
}

Task<void> GcraClient::State::Send(std::shared_ptr<State> /*keep-alive*/,
                                   std::vector<GcraCharge> charges) {
  absl::Status status = co_await GcraDebit(redis, charges);
  if (!status.ok()) Lost(charges.size(), status);
}

void GcraClient::State::Lost(size_t keys, const absl::Status& why) {
  if (closed) return;  // shutting down: nobody to tell
  if (debits_lost) debits_lost(keys);
  unlogged += keys;
  const Clock::time_point now = Clock::now();
  if (last_log && now - *last_log < kLogInterval) return;
  last_log = now;
  spdlog::warn("rate limit: Redis debits of {} key{} dropped (usage not charged): {}", unlogged,
               unlogged == 1 ? "" : "s", why.ToString());
  unlogged = 0;
}

GcraClient::GcraClient(net::io_context& ioc, RedisOptions redis, GcraClientOptions options,
                       LostDebits debits_lost)
    : state_(std::make_shared<State>(ioc, std::move(redis), options, std::move(debits_lost))) {}

GcraClient::~GcraClient() {
  // Cancelling allocates nothing in practice but is declared to throw; a destructor must not.
  try {
    state_->closed = true;
    state_->debits_lost = nullptr;  // may point into the owner, which is going
    state_->waiting.clear();
    state_->waiting_keys = 0;
    state_->timer.cancel();
    state_->redis.Close();
  } catch (...) {
    spdlog::error("rate limit: closing the Redis client failed");
  }
}

Task<absl::StatusOr<GcraOutcome>> GcraClient::Check(const std::vector<GcraKey>& keys) {
  // From here on only `state` is used: this object may be destroyed while we wait.
  std::shared_ptr<State> state = state_;
  std::vector<GcraCharge> debits;
  if (!keys.empty() && !state->closed) debits = state->Take(HashTag(keys.front().key));
  absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(state->redis, keys, debits);
  if (!outcome.ok() && !debits.empty()) {
    if (absl::IsInvalidArgument(outcome.status())) {
      // Refused before sending (the check's keys): the debits wait for the next call.
      for (const GcraCharge& debit : debits) state->Add(debit);
    } else {
      state->Lost(debits.size(), outcome.status());
    }
  }
  co_return outcome;
}

absl::Status GcraClient::Debit(const GcraCharge& charge) {
  if (!ValidCharge(charge)) {
    return absl::InvalidArgumentError(
        StrCat("gcra: bad debit of ", charge.cost, " on \"", charge.key, "\""));
  }
  if (charge.cost == 0 || state_->closed) return absl::OkStatus();
  state_->Add(charge);
  return absl::OkStatus();
}

size_t GcraClient::pending_keys() const { return state_->waiting_keys; }

}  // namespace pdgate::limits
