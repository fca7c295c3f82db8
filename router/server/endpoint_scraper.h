#pragma once
// The control thread that keeps endpoints' live state current: every scrape interval it reads
// each endpoint's /metrics (vLLM or SGLang names) into its LoadTracker and LiveEndpoint, with
// bounded concurrency and a timeout per request; optionally it probes /health with thresholds;
// and it forgets the prefix-index entries of endpoints no snapshot lists any more. A failed
// scrape marks the endpoint's load stale; it never ejects by itself (passive outlier detection
// on real legs does). Request threads are never touched: they read the live state's atomics.
#include <functional>
#include <memory>
#include <thread>

#include "router/runtime/router_state.h"

namespace pdgate::router {

class EndpointScraper {
 public:
  // `current` gives the state to scrape (called on the control thread); `on_first_pass` runs
  // once, on the control thread, after the first pass over every endpoint (scraped or failed)
  // that began while `counts` was true: a pass over a state still waiting for its endpoints
  // (the Kubernetes lists) proves nothing.
  EndpointScraper(std::function<std::shared_ptr<const RouterState>()> current,
                  std::function<void()> on_first_pass, std::function<bool()> counts);
  ~EndpointScraper();  // stops and joins
  EndpointScraper(const EndpointScraper&) = delete;
  EndpointScraper& operator=(const EndpointScraper&) = delete;

  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace pdgate::router
