#include "discovery/uncaught.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>

namespace pdgate {
namespace {

std::array<std::atomic<uint64_t>, size_t(SpawnSite::kCount)> counts{};

}  // namespace

std::string_view ToString(SpawnSite site) {
  switch (site) {
    case SpawnSite::kClientSession:
      return "client_session";
    case SpawnSite::kAdminSession:
      return "admin_session";
    case SpawnSite::kAcceptLoop:
      return "accept_loop";
    case SpawnSite::kPoolPrune:
      return "pool_prune";
    case SpawnSite::kFileWatch:
      return "file_watch";
    case SpawnSite::kDrain:
      return "drain";
    case SpawnSite::kDisconnectWatch:
      return "disconnect_watch";
    case SpawnSite::kSglangPrefill:
      return "sglang_prefill";
    case SpawnSite::kSglangAbort:
      return "sglang_abort";
    case SpawnSite::kSharedLoadSync:
      return "shared_load_sync";
    case SpawnSite::kScraper:
      return "scraper";
    case SpawnSite::kKubeWatch:
      return "kube_watch";
    case SpawnSite::kKubeBuild:
      return "kube_build";
    case SpawnSite::kCount:
      break;
  }
  return "unknown";
}

void ReportUncaught::operator()(std::exception_ptr error) const {
  if (!error) return;
  counts[size_t(site)].fetch_add(1, std::memory_order_relaxed);
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    spdlog::error("internal error: {} ended by an exception: {}", ToString(site), e.what());
  } catch (...) {
    spdlog::error("internal error: {} ended by an exception of unknown type", ToString(site));
  }
}

uint64_t UncaughtCount(SpawnSite site) {
  return counts[size_t(site)].load(std::memory_order_relaxed);
}

}  // namespace pdgate
