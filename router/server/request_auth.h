#pragma once
// Authentication on the API port: every /v1/* request, before its body is read, so an
// unauthenticated caller costs a header parse and nothing more; no engine ever sees it. The
// client learns only "401" (or "403" for a model its principal may not call): the reason goes to
// the access log and to pdgate_auth_requests_total.
#include <memory>
#include <string>
#include <string_view>

#include "router/http/client_io.h"
#include "router/http/client_request.h"
#include "router/runtime/worker.h"

namespace pdgate::router {

// Authenticates with the worker's key set and token cache, counts, and asks for a new key set
// when the token names a key the set lacks.
auth::Authentication AuthenticateRequest(Worker& worker, const auth::AuthPolicy& policy,
                                         const ClientRequest& request);

// 401 in OpenAI's shape, and its headers (WWW-Authenticate: Bearer, the request id).
const ErrorInfo& UnauthorizedError();
HeaderList UnauthorizedHeaders(const std::string& request_id);

// The access-log line of a refused request (nothing else is logged of it).
void LogRefusal(Worker& worker, const ClientRequest& request, std::string_view path,
                const std::string& request_id, const auth::Authentication& authentication);

}  // namespace pdgate::router
