// Passive ejection backoff and active-probe thresholds, driven by an injected clock.
#include "discovery/endpoint_health.h"

#include <catch2/catch.hpp>

using namespace pdgate::discovery;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("consecutive failures eject for base × 2^n, a success resets the run") {
  EndpointHealth health;
  OutlierSettings settings;  // 3, 5 s, 300 s
  SteadyTime t{};
  t += seconds(1000);
  CHECK_FALSE(health.RecordFailure(t, true, settings));
  CHECK_FALSE(health.RecordFailure(t, true, settings));
  health.RecordSuccess();
  CHECK_FALSE(health.RecordFailure(t, true, settings));
  CHECK_FALSE(health.RecordFailure(t, true, settings));
  CHECK(health.RecordFailure(t, true, settings));
  CHECK(health.Ejected(t + milliseconds(4999)));
  CHECK_FALSE(health.Ejected(t + seconds(5)));
  // Failing again soon after returning: twice as long, then four times.
  t += seconds(6);
  for (int i = 0; i < 2; ++i) health.RecordFailure(t, true, settings);
  CHECK(health.RecordFailure(t, true, settings));
  CHECK(health.Ejected(t + milliseconds(9999)));
  CHECK_FALSE(health.Ejected(t + seconds(10)));
  t += seconds(11);
  for (int i = 0; i < 3; ++i) health.RecordFailure(t, true, settings);
  CHECK(health.Ejected(t + milliseconds(19999)));
  // Healthy for longer than the last ejection: back to the base time.
  t += seconds(20 + 21);
  for (int i = 0; i < 3; ++i) health.RecordFailure(t, true, settings);
  CHECK(health.Ejected(t + milliseconds(4999)));
  CHECK_FALSE(health.Ejected(t + seconds(5)));
  CHECK(health.total_ejections() == 4);
}

TEST_CASE("the ejection time is capped, and a refused ejection happens once allowed") {
  EndpointHealth health;
  OutlierSettings settings;
  settings.max_ejection = seconds(12);
  SteadyTime t{};
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) health.RecordFailure(t, true, settings);
    REQUIRE(health.Ejected(t));
    t = health.ejected_until() + milliseconds(1);
  }
  CHECK(health.ejected_until() - (t - milliseconds(1)) <= seconds(12));
  EndpointHealth capped;
  for (int i = 0; i < 5; ++i) CHECK_FALSE(capped.RecordFailure(t, false, settings));
  CHECK(capped.RecordFailure(t, true, settings));
  settings.consecutive_failures = 0;  // off
  EndpointHealth off;
  for (int i = 0; i < 10; ++i) CHECK_FALSE(off.RecordFailure(t, true, settings));
}

TEST_CASE("probe verdicts need their thresholds of agreeing results") {
  ProbeHealth probe(2, 3);
  CHECK(probe.healthy());
  CHECK_FALSE(probe.Record(false));
  CHECK_FALSE(probe.Record(false));
  CHECK_FALSE(probe.Record(true));  // the run starts over
  CHECK_FALSE(probe.Record(false));
  CHECK_FALSE(probe.Record(false));
  CHECK(probe.Record(false));
  CHECK_FALSE(probe.healthy());
  CHECK_FALSE(probe.Record(true));
  CHECK(probe.Record(true));
  CHECK(probe.healthy());
}
