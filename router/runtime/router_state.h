#pragma once
// What request handling reads: one immutable bundle of configuration, route table and endpoint
// snapshot. Built off the io threads and handed to each of them; never locked per request.
#include <memory>

#include "config/config.h"
#include "config/route_table.h"
#include "discovery/endpoint_snapshot.h"
#include "pd_scheduler/scheduler.h"
#include "router/auth/authenticator.h"
#include "router/fairness/fairness_queues.h"
#include "router/limits/principal_limits.h"
#include "router/limits/route_limits.h"
#include "router/observe/router_metrics.h"

namespace pdgate::router {

struct RouterState {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const config::RouteTable> routes;
  std::shared_ptr<const discovery::EndpointSnapshot> endpoints;
  std::shared_ptr<RouterMetrics> metrics_registry;  // process-wide; serialised on /metrics
  std::shared_ptr<const MetricHandles> metrics;     // resolved for this state's models/endpoints
  // Live endpoint state and the prefix index outlive a reload: a new state takes them over.
  std::shared_ptr<discovery::LiveRegistry> live;
  std::shared_ptr<const pd_scheduler::Scheduler> scheduler;
  std::shared_ptr<const auth::AuthPolicy> auth;                     // null: no authentication
  std::shared_ptr<const limits::RouteLimits> limits;                // ModelRoutes' rateLimit
  std::shared_ptr<const limits::PrincipalLimits> principal_limits;  // spec.rateLimits
  // The fairness queues: one object for the process, carried over (and reconfigured) by every
  // new state; used only while config->settings.fairness.enabled.
  std::shared_ptr<fairness::FairnessQueues> fairness;
};

// Reader slots of the KV block index: io thread i reads through slot i % this (threads that
// share a slot only wait on each other; the event writer takes every slot per batch).
inline constexpr size_t kKvIndexReaderSlots = 64;

// `previous`: the state being replaced, whose metrics registry, live endpoint state and prefix
// index carry over; null at start.
std::shared_ptr<const RouterState> MakeRouterState(
    const std::shared_ptr<const config::Config>& config, const RouterState* previous = nullptr);

// `state` behind a reference count of its own, for one io thread: the copies that pin the state
// for each request then write that count's cache line only, not one every io thread writes.
std::shared_ptr<const RouterState> ThreadLocalHandle(std::shared_ptr<const RouterState> state);

}  // namespace pdgate::router
