#include "discovery/watch_retry.h"

namespace pdgate::discovery {

WatchNext WatchRetry::AfterWatch(WatchEnd end, size_t events, Duration lasted,
                                 Duration since_list) {
  if (events > 0 || lasted >= kHealthyWatch) backoff_.Reset();
  const bool short_and_empty = events == 0 && lasted < kShortWatch;
  switch (end) {
    case WatchEnd::kServerClosed:
      return {.relist = false, .pause = short_and_empty};
    case WatchEnd::kBroken:
      unreachable_ = true;
      return {.relist = false, .pause = short_and_empty};
    case WatchEnd::kExpired:
    case WatchEnd::kUnreadable:
      // Only a fresh list's version refused at once would make the loop spin.
      return {.relist = true, .pause = events == 0 && since_list < kShortWatch};
    case WatchEnd::kFailed:
      return {.relist = false, .pause = true};
  }
  return {.relist = false, .pause = true};
}

void WatchRetry::AfterListed() {
  if (!unreachable_) return;
  unreachable_ = false;
  backoff_.Reset();
}

}  // namespace pdgate::discovery
