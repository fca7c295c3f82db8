#pragma once
// What a list/watch loop does after a watch ends or a list fails: list again or resume from the
// last resourceVersion, and whether to wait first. The rules follow client-go's reflector: a
// watch that delivered events or lasted a second, then ended (the server's timeout, a load
// balancer cutting it, an API server restart), is opened again at once; only a very short,
// eventless one waits. The wait grows while the server cannot be reached, and starts over once
// a list succeeds again, so a long run of short outages does not leave pdgate waiting out a
// 30-second step after the server is back. A server that answers a fresh list's version with
// 410 at once keeps growing the wait: listing succeeds there, nothing was unreachable. Plain
// logic: durations and randomness are parameters.
#include <chrono>
#include <cstddef>

#include "discovery/backoff.h"

namespace pdgate::discovery {

enum class WatchEnd {
  kServerClosed,  // the server ended it with its final chunk (timeoutSeconds)
  kBroken,        // refused, reset, timed out, or cut without the final chunk
  kExpired,       // 410 Gone: as an ERROR event or as the watch's HTTP status
  kUnreadable,    // an event that could not be decoded: an update would be lost
  kFailed,        // another HTTP status or ERROR event
};

struct WatchNext {
  bool relist = false;  // forget the resourceVersion and list again
  bool pause = false;   // wait Next() first
};

class WatchRetry {
 public:
  using Duration = std::chrono::steady_clock::duration;

  WatchRetry(std::chrono::milliseconds initial, std::chrono::milliseconds cap)
      : backoff_(initial, cap) {}

  // `events` counts every event but errors (bookmarks too); `lasted` is the watch's own time,
  // `since_list` the time since the last successful list.
  WatchNext AfterWatch(WatchEnd end, size_t events, Duration lasted, Duration since_list);
  // A list that failed is tried again after a wait.
  void AfterListFailed() { unreachable_ = true; }
  void AfterListed();
  // The wait before the next attempt; `random01` is uniform in [0, 1).
  std::chrono::milliseconds Next(double random01) { return backoff_.Next(random01); }

  // A watch this long (or one that delivered an event) was healthy.
  static constexpr std::chrono::seconds kHealthyWatch{10};
  // A watch shorter than this, without events, ended "at once".
  static constexpr std::chrono::seconds kShortWatch{1};

 private:
  Backoff backoff_;
  bool unreachable_ = false;  // a transport failure since the last successful list
};

}  // namespace pdgate::discovery
