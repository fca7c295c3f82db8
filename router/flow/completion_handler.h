#pragma once
// POST /v1/chat/completions and /v1/completions: parse, route, pick pairs, run the PD flow of the
// ModelServer's kvConnector (or a plain proxy for aggregated servers), relay the decode output.
#include <string>

#include "router/http/client_request.h"
#include "router/http/net.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

// `body` holds the request body with at least kJsonPadding bytes of capacity behind it.
// Sets `keep_alive` false when the connection must close after this request. `authentication`:
// the caller's, already accepted (its method is kNone when authentication is off); a model its
// principal may not use is refused with 403.
Task<void> HandleCompletion(Worker& worker, Stream& client, const ClientRequest& request,
                            std::string& body, bool& keep_alive,
                            const auth::Authentication& authentication);

}  // namespace pdgate::router
