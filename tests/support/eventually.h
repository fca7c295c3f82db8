#pragma once
// Waiting on a condition with a deadline, never on a fixed sleep: the one way tests wait for
// something another process does.
#include <chrono>
#include <functional>

namespace pdgate::testing {

// Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false).
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

}  // namespace pdgate::testing
