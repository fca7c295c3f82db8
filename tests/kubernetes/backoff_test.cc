#include "discovery/backoff.h"

#include <catch2/catch.hpp>

namespace pdgate::discovery {

using std::chrono::milliseconds;

TEST_CASE("backoff doubles up to its cap, with jitter in the upper half", "[kubernetes]") {
  Backoff backoff(milliseconds(100), milliseconds(1000));
  CHECK(backoff.Next(0.0) == milliseconds(50));     // step 100: [50, 100)
  CHECK(backoff.Next(0.999) == milliseconds(199));  // step 200: [100, 200)
  CHECK(backoff.Next(0.5) == milliseconds(300));    // step 400
  CHECK(backoff.Next(0.0) == milliseconds(400));    // step 800
  CHECK(backoff.Next(0.0) == milliseconds(500));    // capped at 1000
  CHECK(backoff.Next(1.0) == milliseconds(1000));
  backoff.Reset();
  CHECK(backoff.Next(0.0) == milliseconds(50));
}

}  // namespace pdgate::discovery
