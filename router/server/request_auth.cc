#include "router/server/request_auth.h"

#include <ctime>

#include "base/strings.h"
#include "router/observe/access_log.h"
#include "router/observe/auth_metrics.h"

namespace pdgate::router {

auth::Authentication AuthenticateRequest(Worker& worker, const auth::AuthPolicy& policy,
                                         const ClientRequest& request) {
  auth::Authentication result = auth::Authenticate(
      policy, worker.jwks.get(), worker.token_cache, request["Authorization"],
      request["x-api-key"], int64_t(std::time(nullptr)));
  if (worker.auth_metrics != nullptr) worker.auth_metrics->Count(result);
  if (result.result == auth::AuthResult::kJwtUnknownKey && worker.request_jwks_refresh) {
    worker.request_jwks_refresh();  // a rotation the set has not caught up with yet
  }
  return result;
}

const ErrorInfo& UnauthorizedError() {
  static const ErrorInfo kError{401,
                                "Invalid or missing credentials. Send an API key or a token as "
                                "'Authorization: Bearer <credential>'.",
                                "invalid_request_error", "", "invalid_api_key"};
  return kError;
}

HeaderList UnauthorizedHeaders(const std::string& request_id) {
  return {{"www-authenticate", "Bearer"}, {"x-request-id", request_id}};
}

void LogRefusal(Worker& worker, const ClientRequest& request, std::string_view path,
                const std::string& request_id, const auth::Authentication& authentication) {
  if (worker.access_log == nullptr || !worker.access_log->enabled()) return;
  AccessRecord record;
  record.request_id = request_id;
  record.method = std::string(request.method_string());
  record.path = std::string(path);
  record.status = UnauthorizedError().status;
  record.error_origin = "auth";
  RecordAuthentication(authentication, record);
  worker.access_log->Submit(std::move(record));
}

}  // namespace pdgate::router
