#pragma once
// Process-wide lifecycle shared by the io threads: readiness and draining. SIGTERM makes /readyz
// answer 503 at once (so the Kubernetes endpoint controller takes the pod out of the Service);
// after drainDelay the listeners close; requests and streams in flight finish, up to the drain
// timeout; then the process exits. Kthena's router has no such readiness delay.
//
// Readiness gates: /readyz is 503 until every gate opened (Kthena's router: informers synced and
// the first metrics scrape done): `scraped`, and `pending_gates` for the others, which whoever
// adds a gate increments before the listeners open and decrements once, when its condition first
// holds (the Kubernetes source's initial lists, the first JWT key set, the control thread's start).
#include <atomic>
#include <string_view>

namespace pdgate::router {

// Readiness also waits for the first pass of endpoint scraping, so a new replica does not take
// traffic while it knows nothing of the engines' load (as Kthena's router).
struct Lifecycle {
  std::atomic<bool> draining{false};
  std::atomic<bool> scraped{false};   // the first scrape pass is done
  std::atomic<int> pending_gates{0};  // the other gates

  bool ready() const {
    return !draining.load(std::memory_order_relaxed) && scraped.load(std::memory_order_relaxed) &&
           pending_gates.load(std::memory_order_acquire) == 0;
  }
  // The /readyz body.
  std::string_view ReadinessJson() const {
    if (draining.load(std::memory_order_relaxed)) return R"({"status":"draining"})";
    if (ready()) return R"({"status":"ok"})";
    return pending_gates.load(std::memory_order_acquire) > 0 ? R"({"status":"syncing"})"
                                                             : R"({"status":"starting"})";
  }
};

}  // namespace pdgate::router
