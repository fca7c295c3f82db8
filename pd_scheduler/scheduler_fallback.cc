// Scheduler::Pick: the available endpoints first, then the others for the attempts left.
//
// Passive outlier detection keeps a recovered engine out for its whole ejection time, while the
// ejection cap keeps a dead one in: with only the available endpoints, every retry of a request
// could go to the same dead pair, or a group that kept only its prefill available and another
// that kept only its decode would leave no pair at all — a 503 with healthy engines behind it.
// The attempts the available endpoints cannot fill go to pairs among all endpoints instead: a
// suspect target beats the same failing one again, or none.
#include <algorithm>

#include "pd_scheduler/scheduler.h"

namespace pdgate::pd_scheduler {
namespace {

size_t Targets(const Decision& decision) { return decision.pairs.size() + decision.singles.size(); }

// Appends `more`'s targets of the kind `decision` has that it does not hold yet, up to `limit`.
void AppendNew(Decision& decision, const Decision& more, size_t limit) {
  if (!decision.pairs.empty()) {
    for (size_t k = 0; k < more.pairs.size() && decision.pairs.size() < limit; ++k) {
      const PdPair& pair = more.pairs[k];
      const bool held = std::any_of(
          decision.pairs.begin(), decision.pairs.end(),
          [&](const PdPair& p) { return p.prefill == pair.prefill && p.decode == pair.decode; });
      if (held) continue;
      decision.pairs.push_back(pair);
      decision.prefill_tokens.push_back(more.prefill_tokens[k]);
    }
  } else {
    for (uint32_t single : more.singles) {
      if (decision.singles.size() >= limit) break;
      if (std::find(decision.singles.begin(), decision.singles.end(), single) ==
          decision.singles.end()) {
        decision.singles.push_back(single);
      }
    }
  }
}

}  // namespace

Decision Scheduler::Pick(const discovery::ServerEndpoints& server, const RequestFacts& facts,
                         discovery::SteadyTime now, std::mt19937_64& rng,
                         size_t max_targets) const {
  bool left_out = false;
  Decision decision = PickAmong(server, facts, now, rng, max_targets, false, left_out);
  // Nothing was left out (the usual case): one pass.
  if (!left_out || Targets(decision) >= max_targets) return decision;
  bool ignored = false;
  Decision all = PickAmong(server, facts, now, rng, max_targets, true, ignored);
  if (Targets(decision) == 0) return all;
  AppendNew(decision, all, max_targets);
  return decision;
}

}  // namespace pdgate::pd_scheduler
