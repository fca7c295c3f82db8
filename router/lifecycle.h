#pragma once
// Process-wide lifecycle shared by the io threads: readiness and draining. SIGTERM makes /readyz
// answer 503 at once (so the Kubernetes endpoint controller takes the pod out of the Service);
// after drainDelay the listeners close; requests and streams in flight finish, up to the drain
// timeout; then the process exits. Kthena's router has no such readiness delay.
#include <atomic>

namespace pdgate::router {

struct Lifecycle {
  std::atomic<bool> draining{false};
  bool ready() const { return !draining.load(std::memory_order_relaxed); }
};

}  // namespace pdgate::router
