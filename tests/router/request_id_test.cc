// Request ids pdgate makes when the client sent none: random UUIDs (version 4, RFC 9562).
#include "router/openai/request_id.h"

#include <catch2/catch.hpp>
#include <set>

using namespace pdgate::router;

TEST_CASE("a new request id is a version 4 UUID in lowercase hex, and ids differ") {
  std::mt19937_64 rng(42);
  std::set<std::string> seen;
  for (int n = 0; n < 1000; ++n) {
    const std::string id = NewRequestId(rng);
    REQUIRE(id.size() == 36);
    for (size_t i = 0; i < id.size(); ++i) {
      if (i == 8 || i == 13 || i == 18 || i == 23) {
        REQUIRE(id[i] == '-');
      } else {
        REQUIRE(std::string_view("0123456789abcdef").find(id[i]) != std::string_view::npos);
      }
    }
    CHECK(id[14] == '4');
    CHECK(std::string_view("89ab").find(id[19]) != std::string_view::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 1000);
}

TEST_CASE("the same generator state makes the same ids") {
  std::mt19937_64 rng(7);
  CHECK(NewRequestId(rng) == "c11f6531-eb66-49a7-b305-67547a34c162");
  CHECK(NewRequestId(rng) == "1e0edcc1-2069-47ce-a454-6c04d9ff7cf6");
  CHECK(NewRequestId(rng) == "242a5f87-d0a7-4edd-8e1a-95d201fdd96c");
}
