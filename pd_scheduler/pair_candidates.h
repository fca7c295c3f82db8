#pragma once
// The simple pair picker that serves until the scoring scheduler lands: groups that can serve PD
// are taken in rotation, and within a group the prefill and decode members rotate too. It returns
// several pairs, each from a different group first, so a retry moves to another group.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "discovery/endpoint_snapshot.h"

namespace pdgate::pd_scheduler {

struct PdPair {
  uint32_t prefill = 0;  // indices into ServerEndpoints::endpoints
  uint32_t decode = 0;
  friend bool operator==(const PdPair&, const PdPair&) = default;
};

// Up to `max_pairs` pairs for the request numbered `sequence` (a per-thread counter), best first.
std::vector<PdPair> RoundRobinPairs(const discovery::ServerEndpoints& server, uint64_t sequence,
                                    size_t max_pairs);

}  // namespace pdgate::pd_scheduler
