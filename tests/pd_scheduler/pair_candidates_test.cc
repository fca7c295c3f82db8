// The interim round-robin pair picker: spreads over groups and members, retries change group.
#include "pd_scheduler/pair_candidates.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

using namespace pdgate;
using pdgate::pd_scheduler::PdPair;
using pdgate::pd_scheduler::RoundRobinPairs;

namespace {

// Endpoints 0.. are prefill and decode members as listed per group.
discovery::ServerEndpoints Server(const std::vector<std::pair<int, int>>& groups) {
  discovery::ServerEndpoints server;
  uint32_t next = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    discovery::PdGroup group;
    group.name = "g" + std::to_string(g);
    for (int i = 0; i < groups[g].first; ++i) group.prefill.push_back(next++);
    for (int i = 0; i < groups[g].second; ++i) group.decode.push_back(next++);
    server.groups.push_back(group);
  }
  server.endpoints.resize(next);
  return server;
}

}  // namespace

TEST_CASE("no group that can serve: no pairs") {
  CHECK(RoundRobinPairs(Server({{1, 0}, {0, 2}}), 0, 5).empty());
}

TEST_CASE("the candidates of one request come from distinct groups first, without repeats") {
  auto server = Server({{1, 1}, {1, 1}, {2, 1}});
  auto pairs = RoundRobinPairs(server, 7, 5);
  REQUIRE(pairs.size() == 4);  // 1 + 1 + 2 combinations in all
  std::set<std::pair<uint32_t, uint32_t>> distinct;
  for (const PdPair& pair : pairs) distinct.insert({pair.prefill, pair.decode});
  CHECK(distinct.size() == 4);
  // The first three come from three different groups (their decode endpoints differ).
  CHECK(std::set<uint32_t>{pairs[0].decode, pairs[1].decode, pairs[2].decode}.size() == 3);
}

TEST_CASE("successive requests spread evenly over groups and members") {
  auto server = Server({{2, 2}, {1, 1}});
  std::map<uint32_t, int> first_prefill, first_decode;
  constexpr int kRequests = 4000;
  for (uint64_t sequence = 0; sequence < kRequests; ++sequence) {
    auto pairs = RoundRobinPairs(server, sequence, 1);
    REQUIRE(pairs.size() == 1);
    ++first_prefill[pairs[0].prefill];
    ++first_decode[pairs[0].decode];
  }
  // Group 0 (endpoints 0-3) and group 1 (4, 5) each get half; members of group 0 a quarter each.
  CHECK(first_prefill[4] == kRequests / 2);
  CHECK(first_prefill[0] == kRequests / 4);
  CHECK(first_prefill[1] == kRequests / 4);
  CHECK(first_decode[2] == kRequests / 4);
  CHECK(first_decode[3] == kRequests / 4);
}
