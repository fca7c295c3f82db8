#include "pd_scheduler/pair_candidates.h"

namespace pdgate::pd_scheduler {

std::vector<PdPair> RoundRobinPairs(const discovery::ServerEndpoints& server, uint64_t sequence,
                                    size_t max_pairs) {
  std::vector<const discovery::PdGroup*> usable;
  for (const discovery::PdGroup& group : server.groups) {
    if (group.CanServe()) usable.push_back(&group);
  }
  std::vector<PdPair> pairs;
  if (usable.empty()) return pairs;
  // Round r takes the r-th member combination of every group, so the first pairs all come from
  // distinct groups.
  const size_t n = usable.size();
  for (size_t round = 0; pairs.size() < max_pairs; ++round) {
    bool any = false;
    for (size_t i = 0; i < n && pairs.size() < max_pairs; ++i) {
      const discovery::PdGroup& group = *usable[(sequence + i) % n];
      const size_t combinations = group.prefill.size() * group.decode.size();
      if (round >= combinations) continue;
      any = true;
      // Consecutive k enumerate every (prefill, decode) combination once per P*D requests.
      const uint64_t k = (sequence / n + round) % combinations;
      pairs.push_back(
          {group.prefill[k % group.prefill.size()], group.decode[k / group.prefill.size()]});
    }
    if (!any) break;
  }
  return pairs;
}

}  // namespace pdgate::pd_scheduler
