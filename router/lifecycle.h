#pragma once
// Process-wide lifecycle shared by the io threads: readiness and draining. SIGTERM makes /readyz
// answer 503 at once (so the Kubernetes endpoint controller takes the pod out of the Service);
// after drainDelay the listeners close; requests and streams in flight finish, up to the drain
// timeout; then the process exits. Kthena's router has no such readiness delay.
#include <atomic>

namespace pdgate::router {

// Readiness also waits for the first pass of endpoint scraping, so a new replica does not take
// traffic while it knows nothing of the engines' load (as Kthena's router).
struct Lifecycle {
  std::atomic<bool> draining{false};
  std::atomic<bool> scraped{false};  // the first scrape pass is done
  bool ready() const {
    return !draining.load(std::memory_order_relaxed) && scraped.load(std::memory_order_relaxed);
  }
};

}  // namespace pdgate::router
