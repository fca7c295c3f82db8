#pragma once
// Helpers the scheduler's test files share (scheduler_test.cc, scheduler_retry_test.cc): a
// scheduler with its own prefix index, score settings, prompts with a shared prefix, pair checks.
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "pd_scheduler/scheduler.h"
#include "tests/pd_scheduler/scheduler_fixture.h"

namespace pdgate::testing {

inline pd_scheduler::Scheduler MakeScheduler(const config::SchedulerSettings& settings = {}) {
  return pd_scheduler::Scheduler(settings, std::make_shared<pd_scheduler::PrefixIndex>(
                                               settings.prefix_cache.max_hash_cache_size));
}

inline config::SchedulerSettings Only(std::vector<config::ScorePluginSetting> scores) {
  config::SchedulerSettings settings;
  settings.scores = std::move(scores);
  return settings;
}

inline std::string Prompt(int prefix, size_t bytes) {
  std::string text = "[{\"role\":\"system\",\"content\":\"tenant " + std::to_string(prefix) + " ";
  while (text.size() < bytes) text += "lorem ipsum dolor sit amet ";
  text.resize(bytes);
  return text;
}

// Every pair's members are in one group, and the pair's roles are right.
inline void CheckPairs(const TestServer& server, const pd_scheduler::Decision& decision) {
  for (const auto& pair : decision.pairs) {
    const auto& p = server.endpoints.endpoints[pair.prefill];
    const auto& d = server.endpoints.endpoints[pair.decode];
    REQUIRE(p.role == discovery::EndpointRole::kPrefill);
    REQUIRE(d.role == discovery::EndpointRole::kDecode);
    REQUIRE(p.group == d.group);
  }
}

}  // namespace pdgate::testing
