#pragma once
// Metric families built when /metrics is read, from state that is not a series of ours: the
// endpoints' live state and the prefix index, the fairness queues, the coroutines ended by an
// exception. Used by RouterMetrics::Serialize (router_metrics.cc), which holds the declared series.
#include <prometheus/metric_family.h>

#include <vector>

#include "router/observe/router_metrics.h"

namespace pdgate::router {

// pdgate_internal_errors_total: every site, zeros included, so an alert needs no absent().
prometheus::MetricFamily InternalErrorsFamily();

// Per-endpoint families from live state; each endpoint once, however many servers list it. With
// a prefix index, its size and match counts too.
std::vector<prometheus::MetricFamily> LiveFamilies(const discovery::EndpointSnapshot& snapshot,
                                                   const pd_scheduler::PrefixIndex* prefix_index);

// The KV block index (kvcache-aware) and the event subscriber feeding it.
std::vector<prometheus::MetricFamily> KvEventFamilies(const KvEventsView& view);

std::vector<prometheus::MetricFamily> FairnessFamilies(const std::vector<FairnessGauges>& queues);

}  // namespace pdgate::router
