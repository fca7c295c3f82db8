#include "router/http/client_io.h"

namespace pdgate::router {

const HeaderList kNoHeaders;

Task<bool> SendResponse(Stream& client, http::status status,
                                  std::string_view content_type, std::string& body, bool keep_alive,
                                  const HeaderList& headers) {
  http::response<http::string_body> response{status, 11};
  response.set(http::field::server, "pdgate");
  response.set(http::field::content_type, content_type);
  for (const auto& [name, value] : headers) response.set(name, value);
  response.keep_alive(keep_alive);
  response.body() = std::move(body);
  response.prepare_payload();
  auto [ec, n] = co_await http::async_write(client, response, kTuple);
  co_return !ec;
}

Task<bool> SendError(Stream& client, const ErrorInfo& error, bool keep_alive,
                               const HeaderList& headers) {
  std::string body = ErrorBody(error);
  const bool sent = co_await SendResponse(client, http::status(error.status), "application/json",
                                          body, keep_alive, headers);
  co_return sent;
}

}  // namespace pdgate::router
