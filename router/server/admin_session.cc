#include "router/server/admin_session.h"

#include "router/flow/fairness_gate.h"
#include "router/http/client_io.h"
#include "router/http/parsed_read.h"
#include "router/server/debug_views.h"

namespace pdgate::router {

Task<void> RunAdminSession(Worker& worker, Socket socket) {
  Stream stream(std::move(socket));
  beast::flat_buffer buffer;
  ErrorInfo error;
  std::string body;
  while (true) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(16 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await ReadParsed(stream, buffer, parser, ReadUntil::kMessage);
    if (ec) break;
    const auto& request = parser.get();
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const bool keep_alive = request.keep_alive();
    beast::error_code peer_error;
    const auto peer = stream.socket().remote_endpoint(peer_error);
    // /debug/* shows the whole configuration: loopback peers only, unless configured otherwise.
    const bool debug_allowed = worker.settings().listen.debug_endpoints_remote ||
                               (!peer_error && peer.address().is_loopback());
    bool sent = false;
    if (request.method() != http::verb::get) {
      error = {405, "Only GET is served on the admin port.", "", "", ""};
      sent = co_await SendError(stream, error, keep_alive, kNoHeaders);
    } else if (path == "/healthz") {
      body = R"({"status":"ok"})";
      sent = co_await SendResponse(stream, http::status::ok, "application/json", body, keep_alive,
                                   kNoHeaders);
    } else if (path.starts_with("/debug/") && !debug_allowed) {
      error = {403, "The debug endpoints answer loopback clients only.", "", "", ""};
      sent = co_await SendError(stream, error, keep_alive, kNoHeaders);
    } else if (path == "/debug/config" || path == "/debug/routes" || path == "/debug/endpoints") {
      const std::shared_ptr<const RouterState> state = worker.state;
      body = path == "/debug/config"   ? DebugConfigJson(*state)
             : path == "/debug/routes" ? DebugRoutesJson(*state)
                                       : DebugEndpointsJson(*state);
      sent = co_await SendResponse(stream, http::status::ok, "application/json", body, keep_alive,
                                   kNoHeaders);
    } else if (path == "/metrics") {
      const std::shared_ptr<const RouterState> state = worker.state;
      body = state->metrics_registry->Serialize(
          state->endpoints.get(), state->scheduler->prefix_index().get(), FairnessGaugesOf(*state),
          {state->scheduler->kv_index().get(), worker.kv_events});
      sent = co_await SendResponse(stream, http::status::ok,
                                   "text/plain; version=0.0.4; charset=utf-8", body, keep_alive,
                                   kNoHeaders);
    } else if (path == "/readyz") {
      const bool ready = worker.ready();
      body = worker.lifecycle->ReadinessJson();
      sent = co_await SendResponse(stream,
                                   ready ? http::status::ok : http::status::service_unavailable,
                                   "application/json", body, keep_alive, kNoHeaders);
    } else {
      error = {404, "No such admin path.", "", "", ""};
      sent = co_await SendError(stream, error, keep_alive, kNoHeaders);
    }
    if (!sent || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(Socket::shutdown_send, ignored);
}

}  // namespace pdgate::router
