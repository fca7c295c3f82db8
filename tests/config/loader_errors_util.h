#pragma once
// What both negative configuration test files share (loader_errors_test.cc,
// loader_settings_errors_test.cc): the example ModelServer edited, message prefixes, and the
// check that a load fails with exactly one given message among its errors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>

#include "tests/config/config_test_util.h"

namespace pdgate::testing {

inline std::string Server(const std::string& from, const std::string& to) {
  return Replace(kServerYaml, from, to);
}

inline const std::string kServer = "pd.yaml: document 1 (ModelServer dev/deepseek-v2): ";
inline const std::string kRoute = "pd.yaml: document 2 (ModelRoute dev/deepseek-v2): ";

// The load fails, and one of its errors is exactly `message`.
inline void ExpectError(const std::string& yaml, const std::string& message) {
  config::LoadResult result = LoadYaml(yaml);
  INFO("errors:\n" << StrJoin(result.errors, "\n"));
  CHECK(result.config == nullptr);
  CHECK(std::find(result.errors.begin(), result.errors.end(), message) != result.errors.end());
}

}  // namespace pdgate::testing
