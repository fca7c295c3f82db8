#pragma once
// What the legs of one completion request read: the client's request, where it was routed, the
// body each leg is spliced from, and the writer and observer every answer and leg goes through.
// Internal to router/flow: shared by the attempt loop (completion_handler.cc), the legs
// (legs.cc, decode_relay.cc) and the SGLang flow (sglang_flow.cc).
#include <memory>
#include <optional>
#include <string_view>

#include "config/model_server.h"
#include "config/router_settings.h"
#include "router/flow/downstream_writer.h"
#include "router/flow/request_observer.h"
#include "router/http/client_request.h"
#include "router/http/disconnect_watch.h"
#include "router/openai/leg_body.h"
#include "router/openai/openai_request.h"
#include "router/runtime/worker.h"
#include "router/upstream/leg_request.h"
#include "router/upstream/upstream_leg.h"

namespace pdgate::router {

struct RequestContext {
  Worker& worker;
  // The settings of the state the request pinned (worker.state may be replaced, and the
  // replacement freed by a second reload, while the request runs).
  const config::RouterSettings& settings;
  const ClientRequest& request;  // the client's: target, headers to forward
  const config::ModelServer& server;
  const discovery::ServerEndpoints& endpoints;  // the server's, in the pinned snapshot
  LegContext leg;                               // the client's body and what every leg changes
  bool inject_usage = false;  // the client streams without usage: ask for it, hide the chunk
  std::shared_ptr<DisconnectWatch> watch;  // closes the legs when the client leaves
  DownstreamWriter& writer;
  RequestObserver& observer;
  std::string_view lora_adapter;  // the LoRA adapter the request named; empty: the base model

  Clock::duration LegTimeout() const;
};

// Where a leg connects (from the snapshot's derived address); nullopt when the pod's address is
// no IP address.
std::optional<LegTarget> LegTargetOf(const discovery::Endpoint& endpoint);
// The client's header fields that go on to the engines, the first of each name, found in one
// walk over the fields.
struct ForwardedFields {
  explicit ForwardedFields(const ClientRequest& request);
  std::optional<std::string_view> accept;
  std::optional<std::string_view> authorization;
  std::optional<std::string_view> traceparent;  // W3C trace context
  std::optional<std::string_view> tracestate;
};

// A leg's request: the client's path (or `target`), our headers, `body` (nullopt: the client's
// body as it came).
LegRequest MakeLegRequest(const RequestContext& context, const discovery::Endpoint& endpoint,
                          std::optional<std::string> body, std::string_view target = {});

}  // namespace pdgate::router
