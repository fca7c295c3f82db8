#include "router/server/kubernetes_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>

namespace pdgate::router {

void AddKubernetesMetrics(discovery::KubeSourceCallbacks& callbacks, RouterMetrics& metrics) {
  prometheus::Registry& registry = metrics.registry();
  auto& events = prometheus::BuildCounter()
                     .Name("pdgate_kubernetes_events_total")
                     .Help("Watch events received from the API server, by resource and type")
                     .Register(registry);
  auto& lists = prometheus::BuildCounter()
                    .Name("pdgate_kubernetes_lists_total")
                    .Help("Lists (initial, and relists after expired/gone resourceVersions)")
                    .Register(registry);
  auto& errors = prometheus::BuildCounter()
                     .Name("pdgate_kubernetes_errors_total")
                     .Help("Failed lists and watches, by resource and kind (transport, http_N…)")
                     .Register(registry);
  prometheus::Gauge& synced = prometheus::BuildGauge()
                                  .Name("pdgate_kubernetes_synced")
                                  .Help("1 once the initial lists of every resource are applied")
                                  .Register(registry)
                                  .Add({});
  prometheus::Gauge& last_build = prometheus::BuildGauge()
                                      .Name("pdgate_kubernetes_last_build_timestamp_seconds")
                                      .Help(
                                          "When the API objects were last built into a "
                                          "configuration (Unix time)")
                                      .Register(registry)
                                      .Add({});
  auto label = [](std::string_view text) { return std::string(text); };
  callbacks.on_event = [&events, label](std::string_view resource, std::string_view type) {
    events.Add({{"resource", label(resource)}, {"type", label(type)}}).Increment();
  };
  callbacks.on_list = [&lists, label](std::string_view resource, std::string_view reason) {
    lists.Add({{"resource", label(resource)}, {"reason", label(reason)}}).Increment();
  };
  callbacks.on_error = [&errors, label](std::string_view resource, std::string_view kind) {
    errors.Add({{"resource", label(resource)}, {"kind", label(kind)}}).Increment();
  };
  callbacks.synced = [&synced, next = std::move(callbacks.synced)] {
    synced.Set(1);
    if (next) next();
  };
  callbacks.apply = [&last_build, next = std::move(callbacks.apply)](config::LoadResult result,
                                                                     std::string why) {
    last_build.Set(double(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count()) /
                   1000.0);
    if (next) next(std::move(result), std::move(why));
  };
}

}  // namespace pdgate::router
