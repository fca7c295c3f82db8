#pragma once
// Helpers of the sim's in-process unit tests: token id runs, and running an io_context until a
// condition holds.
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <vector>

#include "bench/engine_sim/tokenizer.h"

namespace pdgate::sim::testing {

// n consecutive ids from `start` on.
inline std::vector<TokenId> Ids(int n, TokenId start = 1) {
  std::vector<TokenId> ids;
  ids.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids.push_back(start + static_cast<TokenId>(i));
  return ids;
}

// Runs `ioc` in 1 ms slices until `done()`; false at the deadline.
inline bool RunUntil(boost::asio::io_context& ioc, const std::function<bool()>& done,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    ioc.restart();
    ioc.run_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace pdgate::sim::testing
