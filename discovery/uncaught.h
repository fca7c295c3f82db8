#pragma once
// The completion handler of every coroutine pdgate spawns, instead of asio::detached, which drops
// an exception without a trace: an exception that ends a coroutine is logged with the site that
// spawned it and counted (pdgate_internal_errors_total{where}). The data path returns errors as
// values; an exception reaching this handler is a bug to be seen, not a request outcome.
#include <cstdint>
#include <exception>
#include <string_view>

namespace pdgate {

enum class SpawnSite : uint8_t {
  kClientSession,
  kAdminSession,
  kAcceptLoop,
  kPoolPrune,
  kFileWatch,
  kDrain,
  kDisconnectWatch,
  kSglangPrefill,
  kSglangAbort,
  kSharedLoadSync,
  kScraper,
  kKubeWatch,
  kKubeBuild,
  kCount,
};

// snake_case label value: "client_session", ...
std::string_view ToString(SpawnSite site);

struct ReportUncaught {
  SpawnSite site;
  void operator()(std::exception_ptr error) const;
};

// Exceptions that ended a coroutine of `site` since the process started.
uint64_t UncaughtCount(SpawnSite site);

}  // namespace pdgate
